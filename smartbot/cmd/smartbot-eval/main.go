// Command smartbot-eval measures SmartBot matching on intent data and prints
// one JSON object (see package [github.com/waqtor/waqtor/smartbot/eval]).
//
//	go run ./smartbot/cmd/smartbot-eval -rules R.jsonl -queries Q.jsonl [-by FIELD] [-holdout-intents 0.2]
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/philippgille/chromem-go"

	"github.com/waqtor/waqtor/smartbot"
	"github.com/waqtor/waqtor/smartbot/eval"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "smartbot-eval:", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	flag := flag.NewFlagSet("smartbot-eval", flag.ContinueOnError)
	var (
		rulesPath   = flag.String("rules", "", "rules JSONL file (required)")
		queriesPath = flag.String("queries", "", "queries JSONL file (required)")
		by          = flag.String("by", "", "break accuracy down by this string field of the queries")
		holdout     = flag.Float64("holdout-intents", 0, "fraction of intents whose rules are dropped (their queries become out-of-scope)")
		seed        = flag.Uint64("seed", 1, "seed for -holdout-intents")
		embedder    = flag.String("embedder", "builtin", "builtin, ollama or openai")
		model       = flag.String("model", "nomic-embed-text", "model for -embedder ollama/openai")
		baseURL     = flag.String("base-url", "", "base URL for -embedder ollama/openai (Ollama: http://localhost:11434/api)")
		apiKeyEnv   = flag.String("api-key-env", "OPENAI_API_KEY", "environment variable holding the key for -embedder openai")
		answer      = flag.Float64("answer-threshold", 0, "confidence to answer (0: library default)")
		suggest     = flag.Float64("suggest-threshold", 0, "confidence to suggest; below is no match (0: library default)")
		dims        = flag.Int("dims", 0, "built-in embedder dimensions (0: library default)")
		confused    = flag.Int("confused", 10, "number of confused intent pairs to print (0: none)")
	)
	if err := flag.Parse(args); err != nil {
		return err
	}
	if *rulesPath == "" || *queriesPath == "" {
		flag.Usage()
		return fmt.Errorf("-rules and -queries are required")
	}
	rf, err := os.Open(*rulesPath)
	if err != nil {
		return err
	}
	defer rf.Close()
	rules, err := smartbot.LoadRulesJSONL(rf)
	if err != nil {
		return err
	}
	qf, err := os.Open(*queriesPath)
	if err != nil {
		return err
	}
	defer qf.Close()
	queries, err := eval.LoadQueries(qf)
	if err != nil {
		return err
	}
	mcfg := &smartbot.MatcherConfig{
		AnswerThreshold:  *answer,
		SuggestThreshold: *suggest,
		Builtin:          &smartbot.BuiltinConfig{Dimensions: *dims},
	}
	var fn chromem.EmbeddingFunc
	switch *embedder {
	case "builtin":
	case "ollama":
		fn = smartbot.NewOllamaEmbeddingFunc(*model, *baseURL)
	case "openai":
		fn = smartbot.NewOpenAICompatEmbeddingFunc(*baseURL, os.Getenv(*apiKeyEnv), *model)
	default:
		return fmt.Errorf("unknown -embedder %q (want builtin, ollama or openai)", *embedder)
	}
	mcfg.EmbeddingFunc = fn
	rep, err := eval.Run(ctx, rules, queries, &eval.Config{
		ByField: *by, HoldoutFraction: *holdout, Seed: *seed, Matcher: mcfg, TopConfused: cmp.Or(*confused, -1),
	})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
