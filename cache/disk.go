package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/thumbd/thumbd/variant"
)

// Disk is an optional cache folder laid out by hash prefix
// (ab/cd/<hash>_<variant>.<ext>), bounded in bytes, written atomically
// (temp file + rename). Any failure degrades it to "no cache" for a while,
// with a log line and a counter, never an error to the client.
//
// Several processes (replicas) may share one folder: the bytes it holds
// are counted in its usage file, which every process changes only under
// a file lock, so together they keep one budget. A write that would pass
// the budget is skipped and starts an eviction instead.
type Disk struct {
	dir    string
	budget int64
	fp     string // short settings fingerprint, part of every file name
	log    *slog.Logger

	// mu serialises this process's use of the usage file: flock is held
	// per open file, not per goroutine.
	mu        sync.Mutex
	usage     *os.File
	noLocks   atomic.Bool // the filesystem refused flock: per-process only
	used      atomic.Int64
	evicting  sync.Mutex
	downUntil atomic.Int64 // unix nanos; writes are skipped until then

	hits, misses, writes, writeErrors, evictions, corrupt, skipped atomic.Uint64
}

const (
	// degradeFor is how long a failing disk tier is left alone before
	// retrying.
	degradeFor = time.Minute
	// UsageFile, in the cache folder, holds "<bytes> <generation>": what
	// the folder's entries add up to, as the processes writing it count
	// them. It is changed only under flock(2) on itself.
	UsageFile = ".usage"
	// staleTemp is the age after which a temp file is a crash leftover. A
	// younger one may be another replica's write in progress.
	staleTemp = 10 * time.Minute
	// evictAbove and evictTo are the shares of the budget (in 1/100) at
	// which an eviction starts and where it stops.
	evictAbove, evictTo = 95, 90
	// evictBatch is how many files one eviction removes per hold of the
	// lock, so other writers never wait long for it.
	evictBatch = 64
)

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
	u, unlock, err := d.lock()
	if err != nil {
		d.degrade("open usage file", err)
		return d
	}
	gen := u.gen
	unlock()
	_, measured := d.walk()
	if u, unlock, err = d.lock(); err == nil {
		// The walk is exact if nobody changed the folder meanwhile; a new
		// folder (or one from before the usage file) has no count yet.
		if u.gen == gen || !u.known {
			u.bytes = measured
			d.store(u)
		}
		unlock()
	}
	return d
}

// usage is the usage file's content.
type usage struct {
	bytes, gen int64
	known      bool // the file held a count
}

// lock takes the folder's lock and reads the usage file; unlock writes
// nothing, store does.
func (d *Disk) lock() (*usage, func(), error) {
	d.mu.Lock()
	if d.usage == nil {
		f, err := os.OpenFile(filepath.Join(d.dir, UsageFile), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			d.mu.Unlock()
			return nil, nil, err
		}
		d.usage = f
	}
	fd := int(d.usage.Fd())
	locked := false
	if !d.noLocks.Load() {
		err := flockRetry(fd, syscall.LOCK_EX)
		switch {
		case err == nil:
			locked = true
		case errors.Is(err, syscall.ENOLCK) || errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS):
			d.noLocks.Store(true)
			d.log.Warn("disk cache folder does not support file locks; replicas sharing it may pass its budget", "err", err)
		default:
			d.mu.Unlock()
			return nil, nil, err
		}
	}
	unlock := func() {
		if locked {
			_ = flockRetry(fd, syscall.LOCK_UN)
		}
		d.mu.Unlock()
	}
	u := &usage{}
	buf := make([]byte, 64)
	n, _ := d.usage.ReadAt(buf, 0)
	if f := strings.Fields(string(buf[:n])); len(f) == 2 {
		b, err1 := strconv.ParseInt(f[0], 10, 64)
		g, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 == nil && err2 == nil && b >= 0 {
			u.bytes, u.gen, u.known = b, g, true
		}
	}
	d.used.Store(u.bytes)
	return u, unlock, nil
}

func flockRetry(fd, how int) error {
	for {
		if err := syscall.Flock(fd, how); !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// store writes u (with the next generation) while the lock is held.
func (d *Disk) store(u *usage) error {
	u.bytes = max(u.bytes, 0)
	u.gen++
	s := fmt.Sprintf("%d %d\n", u.bytes, u.gen)
	_, err := d.usage.WriteAt([]byte(s), 0)
	if err == nil {
		err = d.usage.Truncate(int64(len(s)))
	}
	d.used.Store(u.bytes)
	return err
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

// entry is one cached file, as a walk found it.
type entry struct {
	path string
	size int64
	mod  time.Time
}

// walk lists the folder's entries (names starting with a dot are the
// usage file and temp files, not entries) and removes temp files old
// enough to be crash leftovers: never renamed, never served.
func (d *Disk) walk() ([]entry, int64) {
	var files []entry
	var total int64
	_ = filepath.WalkDir(d.dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return nil
		}
		if strings.HasPrefix(e.Name(), ".") {
			if strings.HasPrefix(e.Name(), ".tmp-") && time.Since(fi.ModTime()) > staleTemp {
				_ = os.Remove(p)
			}
			return nil
		}
		files = append(files, entry{p, fi.Size(), fi.ModTime()})
		total += fi.Size()
		return nil
	})
	return files, total
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
		d.remove([]string{p})
		return nil, false
	}
	d.hits.Add(1)
	return b, true
}

// remove deletes files under the lock and takes their sizes off the
// count; it returns how many it removed. Only the process whose remove
// succeeds subtracts, so two removing one file count it once.
func (d *Disk) remove(paths []string) int {
	u, unlock, err := d.lock()
	if err != nil {
		n := 0
		for _, p := range paths {
			if os.Remove(p) == nil {
				n++
			}
		}
		return n
	}
	defer unlock()
	n := 0
	for _, p := range paths {
		if fi, err := os.Lstat(p); err == nil && os.Remove(p) == nil {
			u.bytes -= fi.Size()
			n++
		}
	}
	if n > 0 {
		d.store(u)
	}
	return n
}

// put writes body under key atomically; errors only degrade the tier.
func (d *Disk) put(key string, body []byte) {
	n := int64(len(body))
	if d.Degraded() || n > d.budget/8 {
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
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
		d.writeErrors.Add(1)
		d.degrade("write", werr)
		return
	}
	u, unlock, err := d.lock()
	if err != nil {
		_ = os.Remove(tmp.Name())
		d.writeErrors.Add(1)
		d.degrade("lock", err)
		return
	}
	var old int64 // an entry this one replaces (another replica's)
	if fi, err := os.Lstat(p); err == nil {
		old = fi.Size()
	}
	if u.bytes-old+n > d.budget {
		unlock()
		_ = os.Remove(tmp.Name())
		d.skipped.Add(1)
		d.startEvict()
		return
	}
	// Counted before the rename: a crash between the two over-counts,
	// which an eviction's walk corrects, and never lets the folder pass
	// the budget.
	u.bytes += n - old
	werr = d.store(u)
	if werr == nil {
		werr = os.Rename(tmp.Name(), p)
		if werr != nil {
			u.bytes -= n - old
			d.store(u)
		}
	}
	total := u.bytes
	unlock()
	if werr != nil {
		_ = os.Remove(tmp.Name())
		d.writeErrors.Add(1)
		d.degrade("write", werr)
		return
	}
	d.writes.Add(1)
	if total > d.budget*evictAbove/100 {
		d.startEvict()
	}
}

// startEvict runs one eviction in the background unless this process is
// already running one.
func (d *Disk) startEvict() {
	if d.evicting.TryLock() {
		go func() {
			defer d.evicting.Unlock()
			d.evict()
		}()
	}
}

// evict removes the least recently written files until the folder is at
// evictTo% of its budget. The folder is walked without the lock (other
// replicas keep writing); files are removed under it, a batch at a time.
func (d *Disk) evict() {
	u, unlock, err := d.lock()
	if err != nil {
		return
	}
	gen := u.gen
	unlock()
	files, measured := d.walk()
	sort.Slice(files, func(i, j int) bool { return files[i].mod.Before(files[j].mod) })
	target := d.budget * evictTo / 100
	for first := true; ; first = false {
		u, unlock, err := d.lock()
		if err != nil {
			return
		}
		if first && u.gen == gen {
			// Nothing changed while the folder was walked: its size is
			// exact, whatever the count had drifted to (a crash between
			// count and rename, files removed by hand).
			u.bytes = measured
		}
		removed := 0
		for len(files) > 0 && u.bytes > target && removed < evictBatch {
			f := files[0]
			files = files[1:]
			if fi, err := os.Lstat(f.path); err == nil && os.Remove(f.path) == nil {
				u.bytes -= fi.Size()
				d.evictions.Add(1)
				removed++
			}
		}
		d.store(u)
		done := len(files) == 0 || u.bytes <= target
		unlock()
		if done {
			return
		}
	}
}

// Stats reports the disk tier's counters.
func (d *Disk) Stats() Stats {
	return Stats{
		Hits: d.hits.Load(), Misses: d.misses.Load(), Writes: d.writes.Load(),
		WriteErrors: d.writeErrors.Load(), Evictions: d.evictions.Load(), Corrupt: d.corrupt.Load(),
		Skipped: d.skipped.Load(), Bytes: d.used.Load(), Degraded: d.Degraded(), Items: -1, OnDisk: true,
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
	var paths []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), prefix) {
			paths = append(paths, filepath.Join(dir, e.Name()))
		}
	}
	if len(paths) == 0 {
		return 0
	}
	return d.remove(paths)
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
