package store

import (
	"strconv"
	"strings"
)

// Values writes the VALUES list of a multi-row statement to sb: rows tuples of
// cols placeholders each, numbered from first+1 on PostgreSQL ($n) and
// positional on SQLite (?). SQLite looks a named or numbered placeholder up in
// a linear list while parsing and again while binding, so a statement with
// hundreds of "$n" costs quadratic time there; "?" costs nothing. The caller
// passes the arguments in the same order either way.
func (d Dialect) Values(sb *strings.Builder, rows, cols, first int) {
	n := first
	for r := range rows {
		if r > 0 {
			sb.WriteString(", ")
		}
		sb.WriteByte('(')
		for c := range cols {
			if c > 0 {
				sb.WriteString(", ")
			}
			n++
			d.Placeholder(sb, n)
		}
		sb.WriteByte(')')
	}
}

// Placeholder writes the placeholder of the n-th argument (from 1): "$n" on
// PostgreSQL, "?" on SQLite, where arguments must then appear in order.
func (d Dialect) Placeholder(sb *strings.Builder, n int) {
	if d == DialectSQLite {
		sb.WriteByte('?')
		return
	}
	sb.WriteByte('$')
	sb.WriteString(strconv.Itoa(n))
}
