// Package smartbot matches incoming chat messages to business rules and
// renders their replies. It works in-process, offline and without any model
// download, in Arabic and English, and can use a neural embedder (Ollama or
// any OpenAI-compatible server) when one is available. From waqtor it
// imports only package [github.com/waqtor/waqtor/template] and the text
// normalisation it shares with the Core.
//
// # Rules
//
// A [Rule] has triggers (exact phrases, keywords, regexes and example
// phrasings) and reply templates. Build rules in Go or load them with
// [LoadRulesJSONL]; [Rule.Validate] and [ValidateRules] explain what is
// wrong with a rule.
//
// # Pipeline
//
// [Matcher.Match] normalizes the message ([Normalize]: NFKC, case folding,
// Arabic diacritics, tatweel and letter variants, Arabic-Indic digits,
// punctuation of both scripts), detects its language ([DetectLanguage]),
// then tries, in order:
//
//  1. exact: the whole message equals an exact phrase or an example;
//  2. keyword: the message contains a keyword as whole words;
//  3. regex: a rule's regular expression matches;
//  4. semantic: the message is embedded and compared with every example in
//     an in-memory chromem-go collection; rules are scored by their nearest
//     examples, their centroid and a linear model fitted on the examples.
//
// Every [Result] carries a confidence in [0, 1], the stage, the evidence and
// the next best [Candidate]s. [MatcherConfig.AnswerThreshold] and
// [MatcherConfig.SuggestThreshold] turn the confidence into a [Decision]:
// answer, suggest for human review, or no match (fall back).
//
// # Embedders
//
// By default the semantic stage uses [BuiltinEmbedder], fitted on the
// rules' own examples whenever the rules change: hashed word, bigram,
// character n-gram and Arabizi-skeleton features. Set
// [MatcherConfig.EmbeddingFunc] to [NewOllamaEmbeddingFunc] or
// [NewOpenAICompatEmbeddingFunc] (or any chromem-go EmbeddingFunc) to use a
// neural model instead.
//
// # Replies
//
// [Matcher.Reply] picks one of the rule's replies at random and renders it
// with package [github.com/waqtor/waqtor/template], the template language
// campaigns use too: {{name}}, {{phone}}, {{date}}, {{time}} and custom
// variables, fallbacks such as {{name|friend}}, and random variants such as
// {{random:Hi|Hello}}. [Rule.Validate] rejects a reply that does not parse.
//
// # Concurrency
//
// A [Matcher] is safe for concurrent use; [Matcher.SetRules] rebuilds the
// index in the background of ongoing Match calls and swaps it atomically.
package smartbot
