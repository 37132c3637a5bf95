// Package campaign is waihu's dialer: it imports contact lists, decides who to call
// next and when, keeps every campaign and trunk under its call-rate and concurrency
// limits, and records what each call came to.
//
// A Runner dials one campaign from a store.Store. Its loop is:
//
//	campaign slot (fewer while the abandon Throttle slows it) → claim one contact
//	(store, atomic across nodes) → do-not-call, calling-window and golden-hour
//	checks → trunk slot → CPS tokens (campaign, then trunk; callers queue, never
//	rejected) → window and campaign state checked again → a caller ID reserved
//	from the pool (caps and rests in the store) and its CPS token → BeginAttempt
//	(the call record, with the contact's variant, exists before the INVITE) →
//	Dialer.Dial → grade, abandon sample, caller-ID health → retry policy →
//	FinishAttempt.
//
// The Dialer interface is all the Runner knows of SIP and the conversation:
// cmd/waihu implements it with sip.UA, rtp and a prompt or the dialog engine.
//
// Durable state: everything the Runner decides is in the store, so a Runner can be
// killed at any moment. On start it calls store.Recover for its node: a contact that
// was claimed but whose attempt had not begun goes back to pending (it was never
// dialled); a contact whose attempt had begun but not ended is marked interrupted
// and is not dialled again automatically, because the customer's phone may already
// have rung — a missed call is better than a second one. An operator requeues
// interrupted contacts deliberately (Requeue).
package campaign
