// Package store keeps waihu's durable state — campaigns, contacts, call records and
// the do-not-call list — behind one interface, Store, with two backends:
//
//   - SQLite (modernc.org/sqlite, pure Go) in WAL mode, one file in the data
//     directory: the embedded default for a single node.
//   - PostgreSQL (github.com/jackc/pgx/v5) when a DSN is configured: the shared
//     state of several nodes.
//
// Both run the same SQL (placeholders rebound per dialect) and the same versioned
// migrations, and one test suite runs against both.
//
// Claiming is the heart of it. ClaimContacts hands each due contact to exactly one
// caller: PostgreSQL locks candidate rows with FOR UPDATE SKIP LOCKED, so several
// nodes claim disjoint sets without waiting on each other; SQLite runs the claim in a
// single-writer transaction (BEGIN IMMEDIATE). A claimed contact is dialled only
// after BeginAttempt has written its call record, so a node that dies leaves either
// a claim with no attempt (safe to dial again: Recover puts it back to pending) or
// an attempt with no end (the customer may have been called: Recover marks it
// interrupted and never dials it again on its own).
//
// Times are stored as Unix milliseconds (UTC); a zero time.Time is stored as NULL.
package store
