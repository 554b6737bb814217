package smartbot

import (
	"os"
	"strconv"
)

func envF(name string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil {
		return v
	}
	return def
}

var (
	kIDFPow = envF("K_IDF", 0)
	kICFPow = envF("K_ICF", 0.7)
	kLR     = envF("K_LR", 5)
	kEpochs = envF("K_EP", 20)
	kLRate  = envF("K_LRATE", 0.5)
	kL2     = envF("K_L2", 1e-4)
)

var kCMin, kCMax = int(envF("K_CMIN", 2)), int(envF("K_CMAX", 5))

func init() {
	weightMax = float32(envF("K_WMAX", float64(weightMax)))
	weightSecond = float32(envF("K_WSEC", float64(weightSecond)))
	weightCentroid = float32(envF("K_WCEN", float64(weightCentroid)))
	groupWeights[groupWord] = float32(envF("K_GW", float64(groupWeights[groupWord])))
	groupWeights[groupBigram] = float32(envF("K_GB", float64(groupWeights[groupBigram])))
	groupWeights[groupChar] = float32(envF("K_GC", float64(groupWeights[groupChar])))
	groupWeights[groupSkeleton] = float32(envF("K_GS", float64(groupWeights[groupSkeleton])))
}
