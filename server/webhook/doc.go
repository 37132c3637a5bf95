// Package webhook pushes call and campaign results to a CRM: signed HTTP POSTs
// in the Standard Webhooks style (https://www.standardwebhooks.com), queued in
// the store's durable outbox and retried with back-off for up to 24 hours.
//
// cmd/waihu builds one Dispatcher from the webhooks: section of waihu.yaml
// (Settings), runs it beside the server, and enqueues one call.completed
// event per finished call attempt (EnqueueCall) and one campaign.finished
// event per finished campaign (EnqueueCampaignFinished). Enqueueing writes a
// delivery row per subscribed endpoint and returns at once; the Dispatcher's
// workers, on whichever node claims the row first, send it. A node that stops
// or dies loses nothing: the rows wait in the database for the next start.
//
// Every request carries webhook-id (the same on each retry, for the
// receiver's deduplication), webhook-timestamp (Unix seconds of this attempt)
// and webhook-signature ("v1," + base64 of HMAC-SHA256 over
// id + "." + timestamp + "." + body). Verify checks all three for a receiver.
// docs/webhooks.md describes the payloads, the retry schedule and the
// configuration.
package webhook
