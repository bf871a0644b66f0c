// Package cache keeps encoded variants so a repeated miss from the CDN costs
// a map lookup instead of a libvips job. Each place variants are kept is a
// Tier: an in-process LRU bounded in bytes, an optional disk folder, a
// read-only PhotoPrism thumbnail cache; each names its files in its own way
// (memory.go, disk.go, photoprism.go). The server looks a variant up tier
// by tier, cheapest first.
package cache

import "github.com/thumbd/thumbd/variant"

// Key names one variant of one photo, as requested.
type Key struct {
	Hash   string
	Size   variant.Size
	Format variant.Format
}

// Entry is one encoded variant.
type Entry struct {
	Body   []byte
	Width  int // 0 when the tier does not know (disk, PhotoPrism)
	Height int
	// Format is the real encoding, which for colors and originals is not
	// always what the key asked for.
	Format variant.Format
	Source string // where the bytes came from; part of the ETag
}

// Tier is one place variants are kept.
type Tier interface {
	// Name labels the tier in logs, metrics and the cache outcome.
	Name() string
	Get(k Key) (Entry, bool)
	// Put keeps e if this tier keeps such entries (read-only tiers keep
	// nothing; the disk tier only what it can name and serve back).
	Put(k Key, e Entry)
	// Delete drops a photo's variants: every size, or only size.
	Delete(hash, size string)
	Stats() Stats
}

// Stats are a tier's cumulative counters and current size.
type Stats struct {
	Hits, Misses, Evictions uint64
	Bytes                   int64
	Items                   int // entries held; -1 when not counted
	// Disk tiers only. Skipped counts writes left out because the folder
	// was full (an eviction was running or had to start).
	Writes, WriteErrors, Corrupt, Skipped uint64
	Degraded                              bool
	OnDisk                                bool
}

// Sources of a variant's bytes other than a render from the original;
// each has its own ETag.
const (
	SourceDerived    = "derived"
	SourcePhotoPrism = "photoprism"
)
