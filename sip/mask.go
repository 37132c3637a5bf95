package sip

import "strings"

// maskNumber hides the middle of a phone number for logs: 13812345678 →
// 138****5678. Short strings keep only the first character.
func maskNumber(s string) string {
	digits := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	if digits < 5 {
		return s
	}
	keepHead, keepTail := 3, 4
	if len(s) < keepHead+keepTail+1 {
		keepHead, keepTail = 1, 2
	}
	if strings.HasPrefix(s, "+") {
		keepHead++
	}
	if keepHead+keepTail >= len(s) {
		return s
	}
	return s[:keepHead] + strings.Repeat("*", len(s)-keepHead-keepTail) + s[len(s)-keepTail:]
}

// number returns n masked unless the UA is configured to show numbers.
func (ua *UA) number(n string) string {
	if ua.cfg.ShowNumbers {
		return n
	}
	return maskNumber(n)
}
