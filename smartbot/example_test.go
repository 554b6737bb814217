package smartbot_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/waqtor/waqtor/smartbot"
)

func exampleRules() []smartbot.Rule {
	return []smartbot.Rule{
		{
			ID:       "hours",
			Keywords: []string{"opening hours"},
			Examples: []string{"when do you open", "what time do you close", "are you open on friday", "متى تفتحون", "مواعيد الدوام"},
			Replies:  []string{"Hi {{name|there}}, we are open 9:00–21:00."},
		},
		{
			ID:       "order_status",
			Regexes:  []string{`order\s*#?\d{4,}`},
			Examples: []string{"where is my order", "my package has not arrived", "track my delivery", "وين طلبي", "الطلب ما وصل"},
			Replies:  []string{"Let me check that for you, {{name|friend}}."},
		},
		{
			ID:       "refund",
			Examples: []string{"i want my money back", "how do i return an item", "refund for a damaged product", "ابي استرجع فلوسي"},
			Replies:  []string{"Refunds take up to 5 days."},
		},
	}
}

// Build a matcher from rules written in Go and answer a message.
func ExampleNewMatcher() {
	ctx := context.Background()
	m, err := smartbot.NewMatcher(ctx, exampleRules(), nil)
	if err != nil {
		panic(err)
	}
	for _, msg := range []string{
		"What are your OPENING HOURS?",   // keyword
		"status of order #48213",         // regex
		"وين الطلب حقي؟ ما وصل",          // Arabic, semantic
		"where is my order",              // exact example
		"I need my money back please!!!", // English, semantic
	} {
		res, err := m.Match(ctx, msg)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%-13s %-8s %s\n", res.RuleID, res.Stage, res.Decision)
	}
	// Output:
	// hours         keyword  answer
	// order_status  regex    answer
	// order_status  semantic answer
	// order_status  exact    answer
	// refund        semantic answer
}

// Render a reply with the customer's name; a missing name uses the fallback.
func ExampleMatcher_Reply() {
	ctx := context.Background()
	m, err := smartbot.NewMatcher(ctx, exampleRules(), nil)
	if err != nil {
		panic(err)
	}
	res, err := m.Match(ctx, "when do you open?")
	if err != nil {
		panic(err)
	}
	reply, _ := m.Reply(res, map[string]string{"name": "Layla"})
	fmt.Println(reply)
	reply, _ = m.Reply(res, nil)
	fmt.Println(reply)
	// Output:
	// Hi Layla, we are open 9:00–21:00.
	// Hi there, we are open 9:00–21:00.
}

// Normalize shows what the matcher compares.
func ExampleNormalize() {
	fmt.Println(smartbot.Normalize("أَهْلاً وسَهْلاً!! عندي ٣ طلبات"))
	fmt.Println(smartbot.Normalize("Don't   SHOUT, café…"))
	// Output:
	// اهلا وسهلا عندي 3 طلبات
	// dont shout cafe
}

// Load rules from JSONL, one rule per line.
func ExampleLoadRulesJSONL() {
	rules, err := smartbot.LoadRulesJSONL(strings.NewReader(`{"id": "greet", "exact": ["hi", "hello"], "replies": ["Hello {{name|friend}}!"]}
{"intent": "bye", "examples": ["goodbye", "see you later"], "reply": "Bye!"}`))
	if err != nil {
		panic(err)
	}
	for _, r := range rules {
		fmt.Println(r.ID, len(r.Exact), len(r.Examples), r.Replies)
	}
	// Output:
	// greet 2 0 [Hello {{name|friend}}!]
	// bye 0 2 [Bye!]
}

// Plug in an Ollama server (or any OpenAI-compatible one with
// NewOpenAICompatEmbeddingFunc). This example needs a running server, so it
// has no output.
func ExampleNewOllamaEmbeddingFunc() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := smartbot.NewMatcher(ctx, exampleRules(), &smartbot.MatcherConfig{
		EmbeddingFunc: smartbot.NewOllamaEmbeddingFunc("bge-m3", "http://localhost:11434/api"),
	})
	if err != nil {
		fmt.Println("ollama not available:", err)
		return
	}
	res, err := m.Match(ctx, "is the shop open on sunday?")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.RuleID, res.Confidence)
}
