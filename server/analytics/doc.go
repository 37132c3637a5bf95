// Package analytics answers two questions a campaign manager asks of the
// store: which group of contacts converts best (Segments: k-means over the
// contacts' numeric fields and call history), and what answer rate to expect
// at each hour of next week (ForecastAnswerRate: Holt-Winters per hour of day,
// with simpler fallbacks when history is short).
//
// Both are pure functions over contacts and call records, deterministic for a
// given seed, with FromStore helpers that load one campaign. docs/kpis.md
// describes the methods and their limits.
package analytics
