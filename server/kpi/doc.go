// Package kpi computes the twelve key performance indicators of outbound
// calling from finished call records: answer-seizure ratio (接通率),
// human-contact rate, network effectiveness ratio (ITU-T E.425),
// right-party-contact rate, conversion rate, average call duration, average
// handle time, abandon rate, transfer rate and success, list penetration and
// attempts per lead, opt-out rate, and the bot's first-response latency and
// time to greeting.
//
// Every figure is a Value carrying its numerator, denominator and unit, so a
// dashboard can show "12 / 40" beside "30 %". docs/kpis.md defines each one
// in terms of store.CallRecord fields; the code follows that page.
//
// Compute is the pure form over a slice of records; FromStore loads what a
// Query needs; Window is the live form, fed with each finished record and
// asked for a snapshot every few seconds without reading the store again.
//
// "ASR" is never used as a name here: in this project it means speech
// recognition. The answer-seizure ratio is answer_seizure_ratio everywhere.
package kpi
