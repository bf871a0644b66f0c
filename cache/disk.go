package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/thumbd/thumbd/variant"
)

// Disk is an optional cache folder laid out by hash prefix
// (ab/cd/<hash>_<variant>.<ext>), bounded in bytes, written atomically
// (temp file + rename). Any failure degrades it to "no cache" for a while,
// with a log line and a counter, never an error to the client.
type Disk struct {
	dir    string
	budget int64
	fp     string // short settings fingerprint, part of every file name
	log    *slog.Logger

	used      atomic.Int64
	evicting  sync.Mutex
	downUntil atomic.Int64 // unix nanos; writes are skipped until then

	hits, misses, writes, writeErrors, evictions, corrupt atomic.Uint64
}

// degradeFor is how long a failing disk tier is left alone before retrying.
const degradeFor = time.Minute

// OpenDisk prepares the cache folder and measures what it already holds. A
// folder that cannot be created is not an error: the tier starts degraded.
// settings identifies the transform settings: files made with others are
// never served (they keep their names and age out by the budget).
func OpenDisk(dir string, budget int64, settings string, log *slog.Logger) *Disk {
	fp := sha256.Sum256([]byte(settings))
	d := &Disk{dir: dir, budget: budget, fp: hex.EncodeToString(fp[:4]), log: log}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		d.degrade("create cache folder", err)
		return d
	}
	var used int64
	_ = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			if strings.HasPrefix(e.Name(), ".tmp-") {
				// Left by a crash mid-write: never renamed, never served.
				_ = os.Remove(p)
				return nil
			}
			if fi, err := e.Info(); err == nil {
				used += fi.Size()
			}
		}
		return nil
	})
	d.used.Store(used)
	return d
}

func (d *Disk) degrade(what string, err error) {
	if d.downUntil.Swap(time.Now().Add(degradeFor).UnixNano()) < time.Now().UnixNano() {
		d.log.Warn("disk cache degraded: serving without it", "op", what, "err", err, "retry_in", degradeFor)
	}
}

// Degraded reports whether writes are currently skipped.
func (d *Disk) Degraded() bool { return time.Now().UnixNano() < d.downUntil.Load() }

func (d *Disk) path(key string) string {
	if len(key) < 4 {
		return filepath.Join(d.dir, "_", key)
	}
	return filepath.Join(d.dir, key[0:2], key[2:4], key)
}

// Name is the tier's label in logs and metrics.
func (d *Disk) Name() string { return "disk" }

// diskName names a variant on disk: <hash>_<size>_<settings>.<ext>. The
// settings fingerprint is part of it, so a quality or pipeline change never
// serves old bytes under a new ETag.
func (d *Disk) diskName(k Key) string {
	return k.Hash + "_" + k.Size.Name + "_" + d.fp + "." + k.Format.Ext()
}

// Get returns the variant if its file is there and complete.
func (d *Disk) Get(k Key) (Entry, bool) {
	if k.Size.Mode == variant.Original {
		return Entry{}, false
	}
	b, ok := d.get(d.diskName(k))
	if !ok {
		return Entry{}, false
	}
	return Entry{Body: b, Format: k.Format}, true
}

// Put writes renders from the original in the format asked for. Originals
// (format known only from the file) and derived or PhotoPrism bytes are not
// kept: a file records no source, and the ETag must match the bytes.
func (d *Disk) Put(k Key, e Entry) {
	if k.Size.Mode == variant.Original || e.Source != "" || e.Format != k.Format {
		return
	}
	d.put(d.diskName(k), e.Body)
}

// Delete removes a photo's files: every size, or one size.
func (d *Disk) Delete(hash, size string) {
	if size == "" {
		d.deletePrefix(hash + "_")
		return
	}
	d.deletePrefix(hash + "_" + size + "_")
}

// get reads a cached body. A file that is not a complete image of its type
// (truncated, planted, half-written by something else) is removed and
// reported as a miss, so it is regenerated rather than served.
func (d *Disk) get(key string) ([]byte, bool) {
	p := d.path(key)
	b, err := os.ReadFile(p)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			d.log.Warn("disk cache read failed", "err", err)
		}
		d.misses.Add(1)
		return nil, false
	}
	if !Complete(filepath.Ext(key), b) {
		d.corrupt.Add(1)
		d.misses.Add(1)
		d.log.Warn("disk cache entry incomplete; regenerating", "key", key, "bytes", len(b))
		if os.Remove(p) == nil {
			d.used.Add(-int64(len(b)))
		}
		return nil, false
	}
	d.hits.Add(1)
	return b, true
}

// put writes body under key atomically; errors only degrade the tier.
func (d *Disk) put(key string, body []byte) {
	if d.Degraded() || int64(len(body)) > d.budget/8 {
		return
	}
	p := d.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		d.writeErrors.Add(1)
		d.degrade("mkdir", err)
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		d.writeErrors.Add(1)
		d.degrade("create", err)
		return
	}
	_, werr := tmp.Write(body)
	cerr := tmp.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), p)
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
		d.writeErrors.Add(1)
		d.degrade("write", werr)
		return
	}
	d.writes.Add(1)
	if d.used.Add(int64(len(body))) > d.budget && d.evicting.TryLock() {
		go func() {
			defer d.evicting.Unlock()
			d.evict()
		}()
	}
}

// evict removes the least recently written files until the folder is at
// 90% of its budget.
func (d *Disk) evict() {
	type file struct {
		path string
		size int64
		mod  time.Time
	}
	var files []file
	var used int64
	_ = filepath.WalkDir(d.dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".tmp-") {
			return nil
		}
		if fi, err := e.Info(); err == nil {
			files = append(files, file{p, fi.Size(), fi.ModTime()})
			used += fi.Size()
		}
		return nil
	})
	sort.Slice(files, func(i, j int) bool { return files[i].mod.Before(files[j].mod) })
	target := d.budget * 9 / 10
	for _, f := range files {
		if used <= target {
			break
		}
		if os.Remove(f.path) == nil {
			used -= f.size
			d.evictions.Add(1)
		}
	}
	d.used.Store(used)
}

// Stats reports the disk tier's counters.
func (d *Disk) Stats() Stats {
	return Stats{
		Hits: d.hits.Load(), Misses: d.misses.Load(), Writes: d.writes.Load(),
		WriteErrors: d.writeErrors.Load(), Evictions: d.evictions.Load(), Corrupt: d.corrupt.Load(),
		Bytes: d.used.Load(), Degraded: d.Degraded(), Items: -1, OnDisk: true,
	}
}

// deletePrefix removes every cached file whose name starts with prefix (a
// revoked photo's variants), so nothing of it stays on disk. Names start
// with the photo's hash, so only its own folder is listed.
func (d *Disk) deletePrefix(prefix string) int {
	dir := filepath.Dir(d.path(prefix))
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		fi, err := e.Info()
		if err == nil && os.Remove(filepath.Join(dir, e.Name())) == nil {
			d.used.Add(-fi.Size())
			n++
		}
	}
	return n
}

// Has reports whether the variant's file is there, without reading it or
// counting a hit or a miss (pre-rendering skips what is made already).
func (d *Disk) Has(k Key) bool {
	if k.Size.Mode == variant.Original {
		return false
	}
	fi, err := os.Stat(d.path(d.diskName(k)))
	return err == nil && fi.Mode().IsRegular() && fi.Size() > 0
}

// Full reports whether the folder holds its budget's worth (the eviction
// target, 90%): pre-rendering stops there rather than evict its own work.
func (d *Disk) Full() bool { return d.used.Load() >= d.budget*9/10 }
