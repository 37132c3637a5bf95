package auth

import "github.com/waihu/waihu/campaign"

// Phone returns a phone number as p may see it: in full with PermUnmask,
// otherwise masked like 138****5678 (campaign.MaskPhone, the one masking rule
// that logs, exports and the API share). A nil Principal sees it masked.
func (p *Principal) Phone(s string) string {
	if p.Can(PermUnmask) {
		return s
	}
	return MaskPhone(s)
}

// MaskPhone hides the middle of a phone number: 13812345678 → 138****5678.
func MaskPhone(s string) string {
	if s == "" {
		return ""
	}
	return campaign.MaskPhone(s)
}
