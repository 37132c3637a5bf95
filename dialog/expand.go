package dialog

import "strings"

// expand replaces ${name} in s with lookup(name). Only the braced form is
// recognised, so prompts may say "$5,000" safely; an unknown name expands to
// the empty string and is reported through missing.
func expand(s string, lookup func(string) (string, bool), missing func(string)) string {
	if !strings.Contains(s, "${") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		name := strings.TrimSpace(s[i+2 : i+j])
		if v, ok := lookup(name); ok {
			b.WriteString(v)
		} else if missing != nil {
			missing(name)
		}
		s = s[i+j+1:]
	}
}
