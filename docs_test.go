package waqtor_test

import (
	"bytes"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
)

// outsideRefRe matches references to documents that live outside the
// repository (the planning files the project started from, and the shared
// directory beside the checkout): users never get them, so code and docs cite
// docs/ instead. Written so that this file does not match itself.
var outsideRefRe = regexp.MustCompile(`\b(?:DESIGN|RELIABILITY|DEPS|SEED|STYLE)\.md\b|\.\./shared\b|/work/share[d]\b`)

// docsPathRe matches a path into docs/ named anywhere (a code comment citing
// "docs/reliability.md T24", a link).
var docsPathRe = regexp.MustCompile(`\bdocs/[A-Za-z0-9_-]+\.md\b`)

// TestNoReferencesOutsideRepository: no tracked file cites a document outside
// the repository, and every docs/*.md path a file names exists.
func TestNoReferencesOutsideRepository(t *testing.T) {
	t.Parallel()
	files := repoFiles(t)
	require.Contains(t, files, "README.md", "the file list does not cover the repository")
	for _, name := range files {
		text := string(readText(t, name))
		lineOf := func(at int) int { return strings.Count(text[:at], "\n") + 1 }
		if !strings.Contains(text, ".md") && !strings.Contains(text, "/shared") {
			continue // the regular expressions are slow; most files cannot match
		}
		for _, m := range outsideRefRe.FindAllStringIndex(text, -1) {
			t.Errorf("%s:%d cites %q, which is outside the repository; cite docs/ instead", name, lineOf(m[0]), text[m[0]:m[1]])
		}
		for _, m := range docsPathRe.FindAllStringIndex(text, -1) {
			if _, err := os.Stat(filepath.FromSlash(text[m[0]:m[1]])); err != nil {
				t.Errorf("%s:%d names %s, which does not exist", name, lineOf(m[0]), text[m[0]:m[1]])
			}
		}
	}
}

// TestMarkdownLinksResolve: every relative link in the repository's Markdown
// files points to a file inside the repository that exists, and a link to a
// heading of a Markdown file (path#anchor or #anchor) names a heading it has.
func TestMarkdownLinksResolve(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(".")
	require.NoError(t, err)
	checked := 0
	for _, name := range repoFiles(t) {
		if !strings.HasSuffix(name, ".md") {
			continue
		}
		for _, l := range markdownLinks(string(readText(t, name))) {
			u, err := url.Parse(l.target)
			if err != nil {
				t.Errorf("%s:%d: link %q: %v", name, l.line, l.target, err)
				continue
			}
			if u.Scheme != "" || u.Host != "" {
				continue // an absolute URL: not checked (no network in tests)
			}
			checked++
			target := name
			if u.Path != "" {
				target = path.Join(path.Dir(name), u.Path)
			}
			abs, err := filepath.Abs(filepath.FromSlash(target))
			require.NoError(t, err)
			if rel, err := filepath.Rel(root, abs); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				t.Errorf("%s:%d: link %q leaves the repository", name, l.line, l.target)
				continue
			}
			if _, err := os.Stat(abs); err != nil {
				t.Errorf("%s:%d: link %q: %s does not exist", name, l.line, l.target, target)
				continue
			}
			if u.Fragment != "" && strings.HasSuffix(target, ".md") {
				anchors := markdownAnchors(string(readText(t, target)))
				if !anchors[u.Fragment] {
					t.Errorf("%s:%d: link %q: %s has no heading with anchor #%s", name, l.line, l.target, target, u.Fragment)
				}
			}
		}
	}
	require.Positive(t, checked, "no relative link was checked")
}

// citedTestRe matches a test, fuzz target or benchmark named in prose; a name
// qualified by a package (plugin.TestPluginGRPCConn) belongs to a dependency.
var citedTestRe = regexp.MustCompile(`(^|[^.\w])((?:Test|Fuzz|Benchmark)[A-Z]\w*)`)

// TestDocsCiteExistingTests: every test the docs name as a proof exists, so a
// renamed or deleted test cannot leave a promise pointing at nothing.
func TestDocsCiteExistingTests(t *testing.T) {
	t.Parallel()
	var tests strings.Builder
	for _, name := range repoFiles(t) {
		if strings.HasSuffix(name, "_test.go") {
			tests.Write(readText(t, name))
		}
	}
	defined := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^func ((?:Test|Fuzz|Benchmark)\w*)\(`).FindAllStringSubmatch(tests.String(), -1) {
		defined[m[1]] = true
	}
	docs, err := filepath.Glob(filepath.Join("docs", "*.md"))
	require.NoError(t, err)
	cited := 0
	for _, name := range docs {
		for _, m := range citedTestRe.FindAllStringSubmatch(string(readText(t, filepath.ToSlash(name))), -1) {
			cited++
			if !defined[m[2]] {
				t.Errorf("%s cites %s, which no _test.go file defines", name, m[2])
			}
		}
	}
	require.Positive(t, cited, "the docs cite no test")
}

// TestMarkdownHelpers pins the link extraction and anchor rules the two tests
// above rely on, so that they cannot pass by finding nothing.
func TestMarkdownHelpers(t *testing.T) {
	t.Parallel()
	doc := "# Title\n" +
		"See [a](guide/a.md#x-y), [b](../b.md \"t\") and [web](https://example.com).\n" +
		"`[not](code.md)` stays code.\n" +
		"```go\nx := m[k](v) // [no](fence.md)\n```\n" +
		"## asaskevich/EventBus (the Core's `bus`)\n" +
		"## Title\n"
	var got []string
	for _, l := range markdownLinks(doc) {
		got = append(got, l.target)
	}
	require.Equal(t, []string{"guide/a.md#x-y", "../b.md", "https://example.com"}, got)
	require.Equal(t, map[string]bool{"title": true, "asaskevicheventbus-the-cores-bus": true, "title-1": true}, markdownAnchors(doc))

	require.True(t, outsideRefRe.MatchString("see "+"DESIGN"+".md"))
	require.True(t, outsideRefRe.MatchString("(RELIABILITY"+".md T24)"))
	require.True(t, outsideRefRe.MatchString("D=.."+"/shared/data"))
	require.False(t, outsideRefRe.MatchString("docs/reliability.md T24"))
	require.False(t, outsideRefRe.MatchString(`SEED=$(printf '%s' "$BODY")`))

	var names []string
	for _, m := range citedTestRe.FindAllStringSubmatch("`TestA` (x), TestB, plugin.TestPluginGRPCConn, NotTestC, FuzzD.", -1) {
		names = append(names, m[2])
	}
	require.Equal(t, []string{"TestA", "TestB", "FuzzD"}, names)
}

// repoFiles lists the repository's files, slash-separated and relative to the
// root: the tracked files when git is available, else every file in the tree
// outside .git and testdata directories.
func repoFiles(t *testing.T) []string {
	t.Helper()
	if out, err := exec.Command("git", "ls-files", "-z").Output(); err == nil && len(out) > 0 {
		var files []string
		for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
			if _, err := os.Stat(filepath.FromSlash(f)); err == nil { // skip deletions not yet committed
				files = append(files, f)
			}
		}
		return files
	}
	var files []string
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			files = append(files, filepath.ToSlash(p))
		}
		return nil
	})
	require.NoError(t, err)
	return files
}

// readText reads a file; binary files (with a NUL byte) read as empty.
func readText(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.FromSlash(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	if bytes.IndexByte(data, 0) >= 0 {
		return nil
	}
	return data
}

type mdLink struct {
	line   int
	target string
}

var (
	mdLinkRe     = regexp.MustCompile(`\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	mdRefDefRe   = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$`)
	mdCodeSpanRe = regexp.MustCompile("`[^`]*`")
	mdHeadingRe  = regexp.MustCompile(`^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$`)
)

// markdownLinks returns the targets of the inline links and link reference
// definitions of a Markdown document, outside code blocks and code spans.
func markdownLinks(doc string) []mdLink {
	var links []mdLink
	fenced := false
	for i, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		line = mdCodeSpanRe.ReplaceAllString(line, "")
		for _, m := range mdLinkRe.FindAllStringSubmatch(line, -1) {
			links = append(links, mdLink{line: i + 1, target: m[1]})
		}
		if m := mdRefDefRe.FindStringSubmatch(line); m != nil {
			links = append(links, mdLink{line: i + 1, target: m[1]})
		}
	}
	return links
}

// markdownAnchors returns the anchors GitHub gives a document's headings:
// lower case, punctuation dropped, spaces turned into hyphens, and "-1",
// "-2", ... appended to repeats.
func markdownAnchors(doc string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	fenced := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		m := mdHeadingRe.FindStringSubmatch(line)
		if fenced || m == nil {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			seen[a]++
			a += "-" + strconv.Itoa(n)
		} else {
			seen[a] = 1
		}
		anchors[a] = true
	}
	return anchors
}
