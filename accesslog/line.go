package accesslog

import (
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Line builds one JSON log line in the shape slog's JSONHandler writes
// ({"time":…,"level":…,"msg":…, then the fields in order}), for the one
// line every request writes. slog's per-record machinery (the Record, the
// handler state, its mutex) was 7% of a cache hit's CPU; appending the
// same bytes to a pooled buffer costs a fraction of that. Use GetLine,
// add fields, then Writer.Write(l.End()) and PutLine.
type Line struct{ buf []byte }

var linePool = sync.Pool{New: func() any { return &Line{buf: make([]byte, 0, 512)} }}

// GetLine returns an empty line from the pool.
func GetLine() *Line { return linePool.Get().(*Line) }

// PutLine returns l to the pool; its bytes must no longer be in use
// (Writer.Write copies them).
func PutLine(l *Line) {
	if cap(l.buf) > 4<<10 {
		return // an outsized line is not kept
	}
	l.buf = l.buf[:0]
	linePool.Put(l)
}

// Begin starts the line with its time, level (INFO, WARN...) and message.
func (l *Line) Begin(t time.Time, level, msg string) {
	l.buf = append(l.buf[:0], `{"time":"`...)
	l.buf = t.AppendFormat(l.buf, time.RFC3339Nano)
	l.buf = append(l.buf, '"')
	l.String("level", level)
	l.String("msg", msg)
}

func (l *Line) key(k string) {
	l.buf = append(l.buf, ',')
	l.buf = appendString(l.buf, k)
	l.buf = append(l.buf, ':')
}

// String adds a string field.
func (l *Line) String(k, v string) {
	l.key(k)
	l.buf = appendString(l.buf, v)
}

// Strings adds a string field whose value is parts joined, without
// building the joined string first. Each part is escaped on its own, so a
// UTF-8 sequence split across two parts reads as invalid.
func (l *Line) Strings(k string, parts ...string) {
	l.key(k)
	l.buf = append(l.buf, '"')
	for _, p := range parts {
		l.buf = appendEscaped(l.buf, p)
	}
	l.buf = append(l.buf, '"')
}

// Int adds an integer field.
func (l *Line) Int(k string, v int64) {
	l.key(k)
	l.buf = strconv.AppendInt(l.buf, v, 10)
}

// Float adds a number field, formatted as slog does.
func (l *Line) Float(k string, v float64) {
	l.key(k)
	if v != v || v > 1e308 || v < -1e308 { // NaN and infinities are not JSON
		l.buf = appendString(l.buf, strconv.FormatFloat(v, 'g', -1, 64))
		return
	}
	// encoding/json's (and so slog's) choice: plain decimals, exponents
	// only for the very small or large, written e-7 rather than e-07.
	format := byte('f')
	if a := math.Abs(v); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	l.buf = strconv.AppendFloat(l.buf, v, format, -1, 64)
	if n := len(l.buf); format == 'e' && n >= 4 && l.buf[n-4] == 'e' && l.buf[n-3] == '-' && l.buf[n-2] == '0' {
		l.buf[n-2] = l.buf[n-1]
		l.buf = l.buf[:n-1]
	}
}

// End closes the line and returns it, newline included.
func (l *Line) End() []byte {
	l.buf = append(l.buf, '}', '\n')
	return l.buf
}

// appendString appends s as a JSON string escaped as slog does: quotes,
// backslashes, control characters, U+2028 and U+2029; invalid UTF-8
// becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	return append(appendEscaped(b, s), '"')
}

// appendEscaped is appendString without the quotes.
func appendEscaped(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}
