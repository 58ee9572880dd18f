// Package deliver pushes calc's results to webhook endpoints, through a
// durable outbox, signed per Standard Webhooks.
//
// The way of one event:
//
//  1. ReadEvents reads calc's records and Store.Record writes each as an
//     event with one delivery per subscribed endpoint, in a transaction.
//     An event is keyed by its transaction id and the hash of its content,
//     so reading the same record again adds nothing; a new content for a
//     known transaction id is a new event with the next version.
//  2. Run sends what is due. Each attempt is counted in the store before
//     the request goes out and its outcome recorded after the answer. A
//     process that dies between the two sends the delivery again when it is
//     run again, with the same webhook-id (at least once, never lost).
//  3. 2xx is delivered. Network errors, timeouts (and 408), 429 and 5xx are
//     retried on the schedule, with jitter, no sooner than a Retry-After
//     asks (capped). 3xx is not followed and, like any other 4xx, goes to
//     the dead-letter queue at once; 410 also disables the endpoint and
//     moves its pending deliveries to the dead-letter queue. Store.Replay
//     puts dead letters back, with the same ids, and enables the endpoint.
//
// Decisions:
//   - webhook-id is derived from the transaction id, the content hash and
//     the endpoint id (MessageID): the same on every retry, after a crash,
//     and for the same record read again, even into another state file.
//   - The body is built once, when the event is recorded, and sent as is on
//     every attempt; webhook-timestamp (and so the signature) is the time of
//     each attempt, as receivers reject old timestamps.
//   - Ordering is not promised: retries, concurrency and replays reorder
//     events. Each event carries data.transaction_id and data.version, so a
//     receiver keeps the highest version per transaction and drops the rest.
//   - One process should deliver from a state file at a time; the caller
//     holds a lock for that. Recording from several is safe.
package deliver
