package sip

import "testing"

func TestMaskNumber(t *testing.T) {
	tests := []struct{ in, want string }{
		{"13812345678", "138****5678"},
		{"+8613812345678", "+861******5678"},
		{"1001", "1001"},
		{"waihu", "waihu"},
		{"123456", "1***56"},
	}
	for _, tt := range tests {
		if got := maskNumber(tt.in); got != tt.want {
			t.Errorf("maskNumber(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
