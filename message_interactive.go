package waqtor

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Interactive content types: reply buttons and list menus.
const (
	ContentButtons ContentType = "buttons"
	ContentList    ContentType = "list"
)

// Limits on interactive content, WhatsApp's own.
const (
	// MaxButtons is the most reply buttons a Buttons message may have.
	MaxButtons = 3
	// MaxButtonText is the longest button label, in characters.
	MaxButtonText = 20
	// MaxListRows is the most rows a List may have, over all its sections.
	MaxListRows = 10
	// MaxListRowTitle is the longest list row title, in characters.
	MaxListRowTitle = 24
)

// InteractiveMode says how an engine sends a [Buttons] or [List] message.
//
// WhatsApp renders native buttons and lists only for some business accounts and
// silently drops them on most others: the send succeeds and the recipient sees
// nothing. The fallbacks carry the same choices in a form every account shows.
// Replies come back as ordinary inbound content in every mode (a [Text] with the
// chosen label for native replies, a [Text] with a number or label for the text
// menu, a [PollVote] for the poll); [Buttons.Choice] and [List.Choice] map any of
// them back to the option.
type InteractiveMode string

// The interactive modes.
const (
	// InteractiveDefault uses the engine's configured mode (the whatsapp engine
	// defaults to InteractiveText).
	InteractiveDefault InteractiveMode = ""
	// InteractiveNative sends WhatsApp's native buttons or list message.
	InteractiveNative InteractiveMode = "native"
	// InteractivePoll sends a single-choice poll whose options are the labels. A
	// message with fewer than two options is sent as a text menu instead.
	InteractivePoll InteractiveMode = "poll"
	// InteractiveText sends a numbered text menu ([Buttons.TextMenu]).
	InteractiveText InteractiveMode = "text"
)

func (m InteractiveMode) validate() error {
	switch m {
	case InteractiveDefault, InteractiveNative, InteractivePoll, InteractiveText:
		return nil
	}
	return fieldErr(ErrInvalidMessage, "mode", "must be native, text or poll, not %q", m)
}

// Button is one reply button.
type Button struct {
	// ID identifies the button in replies. Required, unique in the message.
	ID string `json:"id"`
	// Text is the label. Required, unique in the message, at most MaxButtonText
	// characters.
	Text string `json:"text"`
}

// Buttons is a message with up to MaxButtons reply buttons.
type Buttons struct {
	// Body is the text above the buttons. Required.
	Body string `json:"body"`
	// Buttons are the choices, 1 to MaxButtons.
	Buttons []Button `json:"buttons"`
	// Footer is small print under the body.
	Footer string `json:"footer,omitempty"`
	// Mode chooses native buttons or a fallback. Defaults to the engine's mode.
	Mode InteractiveMode `json:"mode,omitempty"`
}

// ContentType returns ContentButtons.
func (*Buttons) ContentType() ContentType { return ContentButtons }

func (b *Buttons) validate() error {
	if strings.TrimSpace(b.Body) == "" {
		return fieldErr(ErrInvalidMessage, "body", "must not be empty")
	}
	if err := checkText("body", b.Body); err != nil {
		return err
	}
	if err := checkText("footer", b.Footer); err != nil {
		return err
	}
	if len(b.Buttons) == 0 || len(b.Buttons) > MaxButtons {
		return fieldErr(ErrInvalidMessage, "buttons", "must have 1 to %d entries, not %d", MaxButtons, len(b.Buttons))
	}
	ids, texts := map[string]bool{}, map[string]bool{}
	for i, btn := range b.Buttons {
		if err := checkOption(fmt.Sprintf("buttons[%d]", i), btn.ID, btn.Text, MaxButtonText, ids, texts); err != nil {
			return err
		}
	}
	return b.Mode.validate()
}

// TextMenu renders the buttons as the numbered text menu of InteractiveText:
// the body, a blank line, "1. <label>" per button, and the footer after another
// blank line.
func (b *Buttons) TextMenu() string {
	var sb strings.Builder
	sb.WriteString(b.Body)
	sb.WriteString("\n")
	for i, btn := range b.Buttons {
		sb.WriteString("\n" + strconv.Itoa(i+1) + ". " + btn.Text)
	}
	if b.Footer != "" {
		sb.WriteString("\n\n" + b.Footer)
	}
	return sb.String()
}

// Poll returns the single-choice poll of InteractivePoll.
func (b *Buttons) Poll() *Poll {
	p := &Poll{Question: b.Body, MaxSelections: 1}
	for _, btn := range b.Buttons {
		p.Options = append(p.Options, btn.Text)
	}
	return p
}

// Choice maps a reply to the button it chose: a number of the text menu ("2"),
// a label (case-insensitive, as native replies and poll votes carry it) or an ID.
func (b *Buttons) Choice(reply string) (Button, bool) {
	opts := make([]option, len(b.Buttons))
	for i, btn := range b.Buttons {
		opts[i] = option{btn.ID, btn.Text}
	}
	i := choose(opts, reply)
	if i < 0 {
		return Button{}, false
	}
	return b.Buttons[i], true
}

// ListRow is one choice of a [List].
type ListRow struct {
	// Description is shown under the title.
	Description string `json:"description,omitempty"`
	// ID identifies the row in replies. Required, unique in the list.
	ID string `json:"id"`
	// Title is the label. Required, unique in the list, at most MaxListRowTitle
	// characters.
	Title string `json:"title"`
}

// ListSection groups rows under a heading.
type ListSection struct {
	// Rows are the section's choices; at least one.
	Rows []ListRow `json:"rows"`
	// Title is the section's heading.
	Title string `json:"title,omitempty"`
}

// List is a menu of up to MaxListRows rows in sections, opened by a button.
type List struct {
	// Body is the message text. Required.
	Body string `json:"body"`
	// ButtonText is the label of the button that opens the menu. Required.
	ButtonText string `json:"button_text"`
	// Footer is small print under the body.
	Footer string `json:"footer,omitempty"`
	// Mode chooses a native list or a fallback. Defaults to the engine's mode.
	Mode InteractiveMode `json:"mode,omitempty"`
	// Sections hold the rows; at least one.
	Sections []ListSection `json:"sections"`
	// Title is shown above the body.
	Title string `json:"title,omitempty"`
}

// ContentType returns ContentList.
func (*List) ContentType() ContentType { return ContentList }

func (l *List) validate() error {
	if strings.TrimSpace(l.Body) == "" {
		return fieldErr(ErrInvalidMessage, "body", "must not be empty")
	}
	if strings.TrimSpace(l.ButtonText) == "" {
		return fieldErr(ErrInvalidMessage, "button_text", "must not be empty")
	}
	for _, f := range [...]struct{ name, text string }{{"body", l.Body}, {"button_text", l.ButtonText}, {"footer", l.Footer}, {"title", l.Title}} {
		if err := checkText(f.name, f.text); err != nil {
			return err
		}
	}
	if len(l.Sections) == 0 {
		return fieldErr(ErrInvalidMessage, "sections", "must not be empty")
	}
	ids, titles := map[string]bool{}, map[string]bool{}
	n := 0
	for i, s := range l.Sections {
		if len(s.Rows) == 0 {
			return fieldErr(ErrInvalidMessage, fmt.Sprintf("sections[%d].rows", i), "must not be empty")
		}
		for j, r := range s.Rows {
			field := fmt.Sprintf("sections[%d].rows[%d]", i, j)
			if err := checkOption(field, r.ID, r.Title, MaxListRowTitle, ids, titles); err != nil {
				return err
			}
			if err := checkText(field+".description", r.Description); err != nil {
				return err
			}
			n++
		}
	}
	if n > MaxListRows {
		return fieldErr(ErrInvalidMessage, "sections", "have %d rows, more than %d", n, MaxListRows)
	}
	return l.Mode.validate()
}

// Rows returns every row, in order.
func (l *List) Rows() []ListRow {
	var rows []ListRow
	for _, s := range l.Sections {
		rows = append(rows, s.Rows...)
	}
	return rows
}

// TextMenu renders the list as the numbered text menu of InteractiveText: the
// title in bold, the body, each section's title in bold followed by its rows
// numbered across sections ("3. <title> — <description>"), and the footer.
func (l *List) TextMenu() string {
	var sb strings.Builder
	if l.Title != "" {
		sb.WriteString("*" + l.Title + "*\n")
	}
	sb.WriteString(l.Body)
	sb.WriteString("\n")
	n := 0
	for _, s := range l.Sections {
		sb.WriteString("\n")
		if s.Title != "" {
			sb.WriteString("*" + s.Title + "*\n")
		}
		for _, r := range s.Rows {
			n++
			sb.WriteString(strconv.Itoa(n) + ". " + r.Title)
			if r.Description != "" {
				sb.WriteString(" — " + r.Description)
			}
			sb.WriteString("\n")
		}
	}
	if l.Footer != "" {
		sb.WriteString("\n" + l.Footer)
	}
	return strings.TrimRight(sb.String(), "\n")
}

// Poll returns the single-choice poll of InteractivePoll: the title (or body)
// as the question and the row titles as options.
func (l *List) Poll() *Poll {
	q := l.Body
	if l.Title != "" {
		q = l.Title
	}
	p := &Poll{Question: q, MaxSelections: 1}
	for _, r := range l.Rows() {
		p.Options = append(p.Options, r.Title)
	}
	return p
}

// Choice maps a reply to the row it chose: a number of the text menu, a title
// (case-insensitive) or an ID.
func (l *List) Choice(reply string) (ListRow, bool) {
	rows := l.Rows()
	opts := make([]option, len(rows))
	for i, r := range rows {
		opts[i] = option{r.ID, r.Title}
	}
	i := choose(opts, reply)
	if i < 0 {
		return ListRow{}, false
	}
	return rows[i], true
}

type option struct{ id, label string }

func choose(opts []option, reply string) int {
	r := strings.TrimSpace(reply)
	if n, err := strconv.Atoi(strings.TrimSuffix(r, ".")); err == nil && n >= 1 && n <= len(opts) {
		return n - 1
	}
	for i, o := range opts {
		if strings.EqualFold(o.label, r) {
			return i
		}
	}
	for i, o := range opts {
		if o.id == r {
			return i
		}
	}
	return -1
}

func checkOption(field, id, label string, maxLabel int, ids, labels map[string]bool) error {
	if strings.TrimSpace(id) == "" {
		return fieldErr(ErrInvalidMessage, field+".id", "must not be empty")
	}
	if ids[id] {
		return fieldErr(ErrInvalidMessage, field+".id", "duplicates %q", id)
	}
	ids[id] = true
	if strings.TrimSpace(label) == "" {
		return fieldErr(ErrInvalidMessage, field, "label must not be empty")
	}
	if n := utf8.RuneCountInString(label); n > maxLabel {
		return fieldErr(ErrInvalidMessage, field, "label has %d characters, more than %d", n, maxLabel)
	}
	key := strings.ToLower(label)
	if labels[key] {
		return fieldErr(ErrInvalidMessage, field, "label duplicates %q", label)
	}
	labels[key] = true
	return checkText(field, label)
}
