package smartbot

import (
	"cmp"
	"context"
	"fmt"
	"math"

	"github.com/philippgille/chromem-go"
)

// Defaults of [BuiltinConfig].
const (
	// DimensionsDefault is the default vector size of the built-in embedder.
	DimensionsDefault = 128
	// CharNGramMinDefault is the default shortest character n-gram.
	CharNGramMinDefault = 2
	// CharNGramMaxDefault is the default longest character n-gram.
	CharNGramMaxDefault = 5
)

// BuiltinConfig configures the built-in embedder, see [NewBuiltinEmbedder].
// The zero value (or nil) gives the defaults.
type BuiltinConfig struct {
	// CharNGramMax is the longest character n-gram taken inside each word.
	// Defaults to [CharNGramMaxDefault].
	CharNGramMax int
	// CharNGramMin is the shortest character n-gram taken inside each word.
	// Defaults to [CharNGramMinDefault].
	CharNGramMin int
	// Dimensions is the size of the hashed vectors (one more dimension
	// carries the weight of unknown features). Larger vectors have fewer
	// hash collisions but cost memory and query time linearly.
	// Defaults to [DimensionsDefault].
	Dimensions int
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
// It accepts a nil receiver.
func (c *BuiltinConfig) WithDefaults() *BuiltinConfig {
	var out BuiltinConfig
	if c != nil {
		out = *c
	}
	out.CharNGramMax = cmp.Or(out.CharNGramMax, CharNGramMaxDefault)
	out.CharNGramMin = cmp.Or(out.CharNGramMin, CharNGramMinDefault)
	out.Dimensions = cmp.Or(out.Dimensions, DimensionsDefault)
	return &out
}

func (c *BuiltinConfig) validate() error {
	if c.Dimensions < 16 || c.Dimensions > 1<<16 {
		return fmt.Errorf("%w: BuiltinConfig.Dimensions %d out of range [16, 65536]", ErrInvalidConfig, c.Dimensions)
	}
	if c.CharNGramMin < 1 || c.CharNGramMax < c.CharNGramMin || c.CharNGramMax > 8 {
		return fmt.Errorf("%w: BuiltinConfig char n-gram range [%d, %d] invalid (want 1 <= min <= max <= 8)",
			ErrInvalidConfig, c.CharNGramMin, c.CharNGramMax)
	}
	return nil
}

// icfPower flattens the inverse class frequency weights.
const icfPower = 0.7

// groupWeights are the relative weights of the feature groups.
var groupWeights = [numGroups]float32{
	groupWord:     1.0,
	groupBigram:   0.6,
	groupChar:     1.4,
	groupSkeleton: 0.5,
}

// BuiltinEmbedder is SmartBot's offline embedder: no model download, no
// network. It hashes word unigrams and bigrams (after light English and
// Arabic stemming), character n-grams inside words and, when the examples
// contain Arabic, consonant skeletons that let Arabizi ("3ayez") meet Arabic
// script ("عايز"). Features are weighted by how few rules use them (inverse
// class frequency, a supervised weight fitted on the rules' own examples),
// normalized per group and folded into a fixed-size vector with signed
// feature hashing. Features never seen in the examples keep their weight in
// one extra dimension, so that a message full of unknown words is honestly
// far from every example.
//
// A BuiltinEmbedder is immutable once built and safe for concurrent use.
// [Matcher] fits a new one on every rule change.
type BuiltinEmbedder struct {
	dims      int
	feat      featurizer
	weights   map[uint64]float32
	oovWeight float32
}

// NewBuiltinEmbedder fits the built-in embedder on examples. labels[i] names
// the rule (class) of examples[i]; it may be nil, in which case every
// example is its own class. The examples are normalized with [Normalize].
func NewBuiltinEmbedder(examples, labels []string, cfg *BuiltinConfig) (*BuiltinEmbedder, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if labels != nil && len(labels) != len(examples) {
		return nil, fmt.Errorf("%w: %d labels for %d examples", ErrInvalidConfig, len(labels), len(examples))
	}
	e := &BuiltinEmbedder{
		dims:    cfg.Dimensions,
		feat:    featurizer{charMin: cfg.CharNGramMin, charMax: cfg.CharNGramMax},
		weights: make(map[uint64]float32),
	}
	norms := make([]string, len(examples))
	for i, ex := range examples {
		norms[i] = Normalize(ex)
		if !e.feat.skeleton {
			for _, r := range norms[i] {
				if isArabic(r) {
					e.feat.skeleton = true
					break
				}
			}
		}
	}
	df := make(map[uint64]int)
	classes := make(map[uint64]map[string]struct{})
	classSet := make(map[string]struct{})
	for i, n := range norms {
		label := fmt.Sprint(i)
		if labels != nil {
			label = labels[i]
		}
		classSet[label] = struct{}{}
		for _, f := range e.feat.extract(n) {
			df[f.key]++
			m := classes[f.key]
			if m == nil {
				m = make(map[string]struct{}, 1)
				classes[f.key] = m
			}
			m[label] = struct{}{}
		}
	}
	// Inverse class frequency: a feature used by one rule is worth more than
	// one shared by many, however often it occurs. (Measured on English and
	// Arabic intent data, it beats document-frequency IDF and IDF·ICF.)
	nClasses := float64(len(classSet))
	for k := range df {
		icf := math.Log((nClasses+1)/(float64(len(classes[k]))+1)) + 1
		e.weights[k] = float32(math.Pow(icf, icfPower))
	}
	// Unknown features weigh like the rarest known ones.
	e.oovWeight = float32(math.Pow(math.Log(nClasses+1)+1, icfPower))
	return e, nil
}

// Dimensions returns the length of the vectors returned by [BuiltinEmbedder.Embed].
func (e *BuiltinEmbedder) Dimensions() int { return e.dims + 1 }

// Embed returns the unit-length vector of text. Text without any letter or
// digit returns a zero vector.
func (e *BuiltinEmbedder) Embed(text string) []float32 {
	return e.embedNormalized(Normalize(text))
}

// EmbeddingFunc adapts e to chromem-go.
func (e *BuiltinEmbedder) EmbeddingFunc() chromem.EmbeddingFunc {
	return func(ctx context.Context, text string) ([]float32, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return e.Embed(text), nil
	}
}

func (e *BuiltinEmbedder) embedNormalized(norm string) []float32 {
	vec := make([]float32, e.dims+1)
	sp, oov := e.sparse(norm)
	for k, key := range sp.keys {
		w := sp.val[k]
		if key>>63 == 1 {
			w = -w
		}
		vec[key%uint64(e.dims)] += w
	}
	vec[e.dims] = float32(math.Sqrt(oov))
	normalizeInPlace(vec)
	return vec
}

// sparse returns the weighted known features of a normalized text (keys and
// values, before hashing into the vector) and the squared weight of the
// unknown ones. Values are scaled so that known and unknown features together
// have unit length.
func (e *BuiltinEmbedder) sparse(norm string) (sparseVec, float64) {
	feats := e.feat.extract(norm)
	if len(feats) == 0 {
		return sparseVec{}, 0
	}
	// Arabizi meets Arabic examples only through consonant skeletons: its
	// Latin words and n-grams are unknown because of the script, not the
	// meaning, so they do not count against the message.
	arabizi := e.feat.skeleton && looksArabizi(norm)
	var groupSq [numGroups]float64
	ws := make([]float32, len(feats))
	known := make([]bool, len(feats))
	for i, f := range feats {
		w, ok := e.weights[f.key]
		if !ok {
			if arabizi && f.group != groupSkeleton {
				continue // ws[i] stays 0
			}
			w = e.oovWeight
		}
		known[i] = ok
		w *= 1 + float32(math.Log(float64(f.tf)))
		ws[i] = w
		groupSq[f.group] += float64(w) * float64(w)
	}
	var scale [numGroups]float32
	for g := range scale {
		if groupSq[g] > 0 {
			scale[g] = groupWeights[g] / float32(math.Sqrt(groupSq[g]))
		}
	}
	var total, oov float64
	sp := sparseVec{keys: make([]uint64, 0, len(feats)), val: make([]float32, 0, len(feats))}
	for i, f := range feats {
		w := ws[i] * scale[f.group]
		if w == 0 {
			continue
		}
		total += float64(w) * float64(w)
		if !known[i] {
			oov += float64(w) * float64(w)
			continue
		}
		sp.keys = append(sp.keys, f.key)
		sp.val = append(sp.val, w)
	}
	if total > 0 {
		inv := float32(1 / math.Sqrt(total))
		for i := range sp.val {
			sp.val[i] *= inv
		}
		oov /= total
	}
	return sp, oov
}

// normalizeInPlace scales v to unit length (a zero vector stays zero).
func normalizeInPlace(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= inv
	}
}

// dot is the dot product of two equally long vectors.
func dot(a, b []float32) float32 {
	var s float32
	b = b[:len(a)]
	for i, x := range a {
		s += x * b[i]
	}
	return s
}
