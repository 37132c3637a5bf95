// Package web holds waihu's browser pages, embedded in the binary so that
// it never needs npm or the network at run time: the softphone (phone.html
// and the JsSIP bundle dist/phone.js, built from src/ by `npm run build` and
// committed) and the dashboard (dashboard.html and src/dashboard.js, plain
// JavaScript with no build step). cmd/waihu serves the dashboard at / and
// the softphone at /phone.
package web

import "embed"

// Phone is the softphone: phone.html and dist/phone.js.
//
//go:embed phone.html dist/phone.js
var Phone embed.FS

// Dashboard is the control plane's page: dashboard.html and
// src/dashboard.js.
//
//go:embed dashboard.html src/dashboard.js
var Dashboard embed.FS
