package campaign

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/waihu/waihu/store"
)

// maxImportErrors bounds how many bad lines one import reports.
const maxImportErrors = 20

// ImportCSV reads contacts from CSV with a header row. Known columns (any case):
// phone (required), name, timezone (or time_zone), priority (−99…99), tags
// (separated by ; or |), consent. Every other column becomes a custom field. A
// bad row fails the import with errors naming file and line, up to 20 of them;
// a phone listed twice is kept once (first wins).
func ImportCSV(r io.Reader, file string) ([]store.Contact, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked per row, to name the line
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: empty file, want a header row with a phone column", file)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", file, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if h == "time_zone" {
			h = "timezone"
		}
		if h == "" {
			return nil, fmt.Errorf("%s:1: column %d has no name", file, i+1)
		}
		if _, dup := col[h]; dup {
			return nil, fmt.Errorf("%s:1: column %q appears twice", file, h)
		}
		col[h] = i
		header[i] = h
	}
	if _, ok := col["phone"]; !ok {
		return nil, fmt.Errorf("%s:1: no phone column (header: %s)", file, strings.Join(header, ","))
	}
	var (
		out  []store.Contact
		errs []error
		seen = map[string]bool{}
	)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// FieldPos panics after a failed Read: the line is in the ParseError.
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				errs = append(errs, fmt.Errorf("%s: %w", file, err))
				break
			}
			errs = append(errs, fmt.Errorf("%s:%d: %w", file, pe.Line, err))
			if len(errs) >= maxImportErrors {
				break
			}
			continue
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		c, err := contactFromRow(header, col, rec)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", file, line, err))
			if len(errs) >= maxImportErrors {
				break
			}
			continue
		}
		if seen[c.Phone] {
			continue
		}
		seen[c.Phone] = true
		out = append(out, c)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func contactFromRow(header []string, col map[string]int, rec []string) (store.Contact, error) {
	if len(rec) != len(header) {
		return store.Contact{}, fmt.Errorf("%d fields, header has %d", len(rec), len(header))
	}
	get := func(name string) string {
		if i, ok := col[name]; ok {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var c store.Contact
	phone, err := NormalizePhone(get("phone"))
	if err != nil {
		return c, err
	}
	c.Phone, c.Name, c.Consent = phone, get("name"), get("consent")
	if tz := get("timezone"); tz != "" {
		if _, err := time.LoadLocation(tz); err != nil {
			return c, fmt.Errorf("timezone %q: unknown IANA time zone", tz)
		}
		c.TimeZone = tz
	}
	if p := get("priority"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < -99 || n > 99 {
			return c, fmt.Errorf("priority %q: want a whole number from -99 to 99", p)
		}
		c.Priority = n
	}
	if t := get("tags"); t != "" {
		for _, tag := range strings.FieldsFunc(t, func(r rune) bool { return r == ';' || r == '|' }) {
			if tag = strings.TrimSpace(tag); tag != "" {
				c.Tags = append(c.Tags, tag)
			}
		}
	}
	for i, h := range header {
		switch h {
		case "phone", "name", "timezone", "priority", "tags", "consent":
			continue
		}
		if c.Custom == nil {
			c.Custom = map[string]any{}
		}
		c.Custom[h] = strings.TrimSpace(rec[i])
	}
	return c, nil
}

// NormalizePhone checks a phone number and strips the spaces, dashes, dots and
// brackets people write in them: what remains is an optional + and 5 to 15 digits
// (ITU-T E.164 allows at most 15).
func NormalizePhone(s string) (string, error) {
	var b strings.Builder
	for i, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", fmt.Errorf("phone %q: unexpected %q", s, r)
		}
	}
	p := b.String()
	digits := len(strings.TrimPrefix(p, "+"))
	if digits < 5 || digits > 15 {
		return "", fmt.Errorf("phone %q: want 5 to 15 digits", s)
	}
	return p, nil
}

// MaskPhone hides the middle of a number for logs: 138****5678.
func MaskPhone(p string) string {
	if len(p) < 8 {
		if len(p) <= 2 {
			return "****"
		}
		return p[:1] + "****" + p[len(p)-1:]
	}
	return p[:3] + "****" + p[len(p)-4:]
}
