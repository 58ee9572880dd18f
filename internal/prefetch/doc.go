// Package prefetch asks the processor to start loading memory a caller
// will read soon. A caller with many independent lookups to make (a batch
// of records, each probing tables far larger than the cache) prefetches
// them all before it makes any, so that their cache misses overlap instead
// of each one stalling in turn.
package prefetch
