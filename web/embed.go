// Package web holds waihu's browser softphone: phone.html and the JsSIP
// bundle dist/phone.js, built from src/ by `npm run build` and committed so
// that the Go build never needs npm. cmd/waihu serves them at /phone.
package web

import "embed"

// Phone is the softphone: phone.html and dist/phone.js.
//
//go:embed phone.html dist/phone.js
var Phone embed.FS
