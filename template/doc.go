// Package template is waqtor's one text template language, shared by
// campaign messages and SmartBot replies. It is small on purpose: business
// users write it, customers read its output, and nothing in it can run code
// or show a customer raw template syntax. It imports only the standard
// library.
//
//	t, err := template.Parse("Hello {{name|friend}}, {{random:your order|the parcel}} ships on {{date}}.")
//	...
//	text := t.Render(map[string]string{"name": "Sara"}, &template.RenderOpts{Seed: 42})
//
// # Syntax
//
// Text is copied as it is, except for what is between double braces:
//
//   - {{name}} is the value of the variable "name". Names are Unicode
//     letters (so a contact list's Arabic column {{الاسم}} works), digits,
//     combining marks, '_', '-' and '.'; spaces just inside the braces are
//     ignored ({{ name }}).
//   - {{name|friend}} falls back to "friend" when "name" has no value. The
//     fallback is plain text: no braces and no second '|'. {{name|}} is an
//     optional variable: empty when unset, and never reported by
//     [Template.Missing].
//   - {{random:Hi|Hello|Salam}} is one of its alternatives, chosen by
//     [RenderOpts.Seed] (the keyword is "random", in any case, followed by a
//     colon). Alternatives are plain text, trimmed of surrounding spaces,
//     with no braces (so no nested variables). An alternative may be empty,
//     to sometimes say nothing ("{{random:|Dear}} {{name}}"), but not all
//     of them. Each {{random:...}} in a template chooses independently of
//     the others.
//   - Built-ins: {{date}} (2006-01-02) and {{time}} (15:04) are
//     [RenderOpts.Now] in [RenderOpts.Location]; {{phone}} is the
//     recipient's number, which the caller passes in vars. A value in vars
//     overrides date and time. Built-in names match in any letter case.
//   - \{{ and \}} write literal braces; \{{x}} writes {{x}}. Any other
//     unmatched {{ or }}, a nested {{, or a } straight after }} is a parse
//     error, so a customer never sees raw template syntax. Single braces
//     ({a}) are plain text.
//
// # Values
//
// Values are inserted as they are and never parsed again: a customer's name
// "{{phone}}" is printed as such. A name is looked up exactly first, then
// ignoring letter case ({{Name}} finds a "name" column); an empty or blank
// value counts as no value. A variable with no value and no fallback (or an
// empty fallback or alternative) renders as nothing, and the spaces around
// it are tidied: "Hello {{name}}, hi" → "Hello, hi"; "Hi {{a}} {{b}} there"
// → "Hi there".
//
// # Errors and limits
//
// [Parse] returns a [*ParseError] wrapping [ErrInvalid] that gives the byte
// offset of the problem and what is wrong ("unclosed {{", "invalid character
// ' ' in variable name ..."). A source longer than [MaxBytes] (64 KiB) or not
// valid UTF-8 is refused. An empty source is a valid template; callers whose
// text must not be blank, such as campaigns, use [ParseNonEmpty], whose
// error also wraps [ErrEmpty].
//
// # Checking data before sending
//
// [Template.Variables] lists the custom variables a template uses (the
// columns a contact list needs); [Template.Missing] lists those a given set
// of values lacks, so a campaign can say "12 recipients have no {{name}}"
// when it is created rather than send "Hello ," later.
package template
