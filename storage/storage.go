// Package storage is the originals index: it walks the originals folder,
// hashes each image file (SHA1 of its bytes) and maps hash -> file in
// memory. All access goes through an os.Root, so nothing outside the folder
// is ever opened (symlinks that escape it fail), and files are only ever
// opened read-only.
package storage

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/thumbd/thumbd/placeholder"
	"github.com/thumbd/thumbd/video"
)

// Errors callers map to statuses.
var (
	ErrNotFound = errors.New("no original with that hash")
	ErrTooLarge = errors.New("original file too large")
)

// Original is one indexed file.
type Original struct {
	Hash    string
	Path    string // slash-separated, relative to the originals folder
	Size    int64
	ModTime time.Time
	// From the header at index time, when a Probe is set (zero if unknown).
	Width, Height int       // upright
	Taken         time.Time // EXIF DateTimeOriginal, camera local time
	// Placeholder is what a page paints while the photo loads (ThumbHash,
	// BlurHash, colour); empty if it could not be computed.
	Placeholder placeholder.Placeholder
	// ID is the file's identity when it was hashed: with Size and ModTime
	// it decides whether the bytes may have changed (see matches).
	ID FileID
}

// FileID is what identifies a file's bytes beyond size and mtime: its
// inode and device, and its ctime, which anyone can't set back (touch -d
// restores an mtime, but the kernel moves the ctime on every write and
// every touch).
type FileID struct {
	Dev, Ino uint64
	Ctime    int64 // unix nanoseconds
}

func idOf(fi fs.FileInfo) FileID {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return FileID{}
	}
	return FileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino), Ctime: st.Ctim.Sec*1e9 + st.Ctim.Nsec}
}

// matches reports whether fi is, as far as the kernel can tell, the file o
// was hashed from. An entry without an identity (an old index file) never
// matches, so it is re-hashed once. Dev 0 means "don't compare the
// device" (an index file written on another mount of the same folder).
func (o Original) matches(fi fs.FileInfo) bool {
	if !fi.Mode().IsRegular() || fi.Size() != o.Size || !fi.ModTime().Equal(o.ModTime) {
		return false
	}
	id := idOf(fi)
	if o.ID.Ino == 0 || id.Ino != o.ID.Ino || id.Ctime != o.ID.Ctime {
		return false
	}
	return o.ID.Dev == 0 || o.ID.Dev == id.Dev
}

// Probed is what a Probe learns about an image file at index time.
type Probed struct {
	Width, Height int // upright
	Taken         time.Time
	Placeholder   placeholder.Placeholder
}

// Probe reads an image file at index time: dimensions and date taken from
// its header, and its placeholder from its pixels when src is the whole
// file (complete). The index calls it while hashing, so each file is read
// once.
type Probe func(ctx context.Context, src []byte, complete bool) Probed

// probeWhole is the largest file a Probe sees whole (for its placeholder);
// of larger ones it sees the first probeHead bytes, where headers and EXIF
// live (EXIF is at most 64 KiB). Serving such a file holds it in memory
// all the same; the bound keeps a scan's memory bounded when max_file_mb
// is off.
const (
	probeWhole = 256 << 20
	probeHead  = 4 << 20
)

// Stats summarises a scan.
type Stats struct {
	Files    int
	Bytes    int64
	Skipped  int
	Hashed   int // files whose bytes were read and hashed
	Reused   int // files whose size, mtime, ctime, inode and device matched a known entry
	TooLarge int // image files over max_file_mb, not read at all
	Duration time.Duration
	// Changed says the known entries differ from the previous scan's (or
	// the loaded index file's): something was hashed, or a file went away.
	// An index file needs writing again only then.
	Changed bool
}

// imageExts are the file types indexed; everything else is ignored.
var imageExts = map[string]bool{
	".jpg": true, ".jpeg": true, ".jpe": true, ".png": true, ".webp": true, ".gif": true,
	".tif": true, ".tiff": true, ".heic": true, ".heif": true, ".avif": true,
}

// IsImageName reports whether a file name has an image extension.
func IsImageName(name string) bool {
	return imageExts[strings.ToLower(filepath.Ext(name))]
}

// IsMediaName reports whether a file name is indexed: an image, a camera
// RAW file (served by its preview, see raw.go) or a video.
func IsMediaName(name string) bool {
	return IsImageName(name) || IsRAWName(name) || video.IsVideoName(name)
}

// Indexed reports whether a relative path is one a scan would index: an
// image extension and no hidden file or folder on the way.
func Indexed(rel string) bool {
	for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
		if strings.HasPrefix(part, ".") && part != "." {
			return false
		}
	}
	return IsMediaName(rel)
}

// Index maps hashes to originals.
type Index struct {
	dir         string
	root        *os.Root
	log         *slog.Logger
	maxFileSize int64

	mu         sync.RWMutex
	byHash     map[string]Original
	known      map[string]Original // by path: the last scan, or a loaded index file
	lastScan   Stats
	lastScanAt time.Time

	probe        Probe
	placeholders bool
	progress     func(done, total int)
	// knownPlaceholders: the known entries were probed by a version that
	// computes placeholders (an entry without one then failed, and is not
	// retried); entries from older index files are probed again once.
	knownPlaceholders bool

	version atomic.Int64 // bumped whenever the set of originals changes

	// scanProbes are the probe results of the running scan by hash, so the
	// same bytes at many paths (copies, hard links) are decoded once.
	scanProbes atomic.Pointer[sync.Map]
}

// Version changes whenever the index does, so callers can cache views of it.
func (ix *Index) Version() int64 { return ix.version.Load() }

// Options are an index's settings, fixed when it is opened.
type Options struct {
	// MaxFileSize skips larger files at index time (0 = no limit).
	MaxFileSize int64
	// Probe, if set, fills Width, Height, Taken and Placeholder at index
	// time.
	Probe Probe
	// Placeholders says the probe computes placeholders: entries known
	// without one (an older index file) are then probed again once.
	Placeholders bool
	// Progress, if set, is called every two seconds during a scan.
	Progress func(done, total int)
	// Log receives warnings; nil discards them.
	Log *slog.Logger
}

// Open prepares an index over dir; call Scan to fill it.
func Open(dir string, opts Options) (*Index, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, err
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Index{dir: abs, root: root, log: log, maxFileSize: opts.MaxFileSize, probe: opts.Probe, placeholders: opts.Placeholders && opts.Probe != nil,
		progress: opts.Progress, byHash: map[string]Original{}}, nil
}

// Close releases the folder handle.
func (ix *Index) Close() error { return ix.root.Close() }

// Dir is the absolute originals folder.
func (ix *Index) Dir() string { return ix.dir }

// Len is the number of indexed originals.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.byHash)
}

// LastScan reports the last completed scan and when it finished.
func (ix *Index) LastScan() (Stats, time.Time) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.lastScan, ix.lastScanAt
}

// All returns the originals sorted by path.
func (ix *Index) All() []Original {
	ix.mu.RLock()
	out := make([]Original, 0, len(ix.byHash))
	for _, o := range ix.byHash {
		out = append(out, o)
	}
	ix.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Scan walks the folder and hashes every image file with workers goroutines
// (0 = CPU count), replacing the index when done.
func (ix *Index) Scan(ctx context.Context, workers int) (Stats, error) {
	start := time.Now()
	ix.scanProbes.Store(&sync.Map{})
	defer ix.scanProbes.Store(nil)
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0) // the container's CPU limit, not the node's
	}
	w := ix.walk()
	paths := w.paths

	type result struct {
		o      Original
		err    error
		reused bool
	}
	jobs := make(chan string)
	results := make(chan result)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range jobs {
				if o, ok := ix.unchanged(p); ok {
					results <- result{o: o, reused: true}
					continue
				}
				o, err := ix.hashFile(ctx, p)
				results <- result{o: o, err: err}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for _, p := range paths {
			select {
			case jobs <- p:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()

	total := len(w.reused) + len(paths)
	byHash := make(map[string]Original, total)
	known := make(map[string]Original, total) // every path hashed, duplicates too
	st := Stats{TooLarge: w.tooLarge}
	add := func(r result) {
		if r.err != nil {
			st.Skipped++
			ix.log.Warn("index: skipped", "err", r.err)
			return
		}
		if r.reused {
			st.Reused++
		} else {
			st.Hashed++
		}
		known[r.o.Path] = r.o
		if prev, dup := byHash[r.o.Hash]; dup {
			// Same bytes at two paths: keep the first by path so every
			// replica serves the same file.
			if prev.Path < r.o.Path {
				return
			}
		} else {
			st.Files++
			st.Bytes += r.o.Size
		}
		byHash[r.o.Hash] = r.o
	}
	for _, o := range w.reused {
		add(result{o: o, reused: true})
	}
	done := len(w.reused)
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case r, ok := <-results:
			if !ok {
				goto finished
			}
			done++
			add(r)
		case <-tick.C:
			ix.log.Info("index: progress", "done", done, "of", total)
			if ix.progress != nil {
				ix.progress(done, total)
			}
		}
	}
finished:
	if err := ctx.Err(); err != nil {
		return st, err
	}
	st.Duration = time.Since(start)
	ix.mu.Lock()
	st.Changed = st.Hashed > 0 || len(known) != len(ix.known) || ix.knownPlaceholders != ix.placeholders
	ix.byHash = byHash
	ix.known = known
	ix.knownPlaceholders = ix.placeholders
	ix.lastScan, ix.lastScanAt = st, time.Now()
	ix.version.Add(1)
	ix.mu.Unlock()
	if ix.progress != nil {
		ix.progress(total, total)
	}
	return st, nil
}

// unchanged returns the known entry for p if the file's size and mtime are
// what they were when it was hashed (a rescan or a restart with an index
// file then costs a stat, not a read).
func (ix *Index) unchanged(p string) (Original, bool) {
	o, ok := ix.reusable(p)
	if !ok {
		return Original{}, false
	}
	fi, err := ix.root.Stat(p)
	if err != nil || !o.matches(fi) {
		return Original{}, false
	}
	return o, true
}

// reusable returns the known entry for p, unless there is none or it must
// be probed again.
func (ix *Index) reusable(p string) (Original, bool) {
	ix.mu.RLock()
	o, ok := ix.known[p]
	withPlaceholders := ix.knownPlaceholders
	ix.mu.RUnlock()
	if !ok {
		return Original{}, false
	}
	if ix.probe != nil && IsImageName(p) && (o.Width == 0 || (ix.placeholders && !withPlaceholders && o.Placeholder.ThumbHash == "")) {
		// An entry from an index file written without a probe, or before
		// placeholders: hash it again so it gains them.
		return Original{}, false
	}
	return o, true
}

// walked is what a walk of the originals found.
type walked struct {
	paths    []string   // media files to hash (or look at again) in the workers
	reused   []Original // known entries whose file the walk found unchanged
	tooLarge int
}

// walk lists the media files under the root, sorted by path within each
// folder, skipping hidden files and folders. A file with a known entry is
// checked on the way against the lstat that reading a folder inside an
// os.Root makes of every entry anyway (fstatat on the folder's handle): a
// restart over 100k indexed files then costs no further system call per
// file, where a Root.Stat in the workers was an open, a stat and a close
// each. A file that does not match (changed, or a symlink) goes to the
// workers as before.
func (ix *Index) walk() walked {
	var w walked
	ix.walkDir(".", &w)
	return w
}

// walkDir lists one folder, closes it, then descends: the walk holds one
// descriptor whatever the depth.
func (ix *Index) walkDir(rel string, w *walked) {
	f, err := ix.root.Open(rel)
	if err != nil {
		ix.log.Warn("index: cannot read", "path", rel, "err", errors.Unwrap(err))
		return
	}
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		// What was read is still walked.
		ix.log.Warn("index: cannot read", "path", rel, "err", errors.Unwrap(err))
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	var subdirs []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			// Hidden files and folders (.git, .thumbs, ._AppleDouble) are not photos.
			continue
		}
		p := path.Join(rel, name)
		if e.IsDir() {
			subdirs = append(subdirs, p)
			continue
		}
		if !IsMediaName(name) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			w.paths = append(w.paths, p) // the workers report it
			continue
		}
		if ix.maxFileSize > 0 && IsImageName(name) && fi.Size() > ix.maxFileSize {
			// Never read a file only to refuse it later: a 10 GB file
			// would delay readiness by the time it takes to hash it.
			w.tooLarge++
			ix.log.Warn("index: skipped, larger than max_file_mb", "path", p, "bytes", fi.Size())
			continue
		}
		if o, ok := ix.reusable(p); ok && o.matches(fi) {
			w.reused = append(w.reused, o)
			continue
		}
		w.paths = append(w.paths, p)
	}
	for _, d := range subdirs {
		ix.walkDir(d, w)
	}
}

// hashFile opens p through the root (so escaping symlinks fail) and hashes
// it, probing image files on the way.
func (ix *Index) hashFile(ctx context.Context, p string) (Original, error) {
	f, err := ix.openRegular(p)
	if err != nil {
		return Original{}, fmt.Errorf("%s: %w", p, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Original{}, fmt.Errorf("%s: %w", p, err)
	}
	h := sha1.New()
	var head bytes.Buffer
	var src io.Reader = f
	probe := ix.probe != nil && IsImageName(p)
	keep := probeHead
	if probe {
		if fi.Size() <= probeWhole {
			keep = int(fi.Size())
		}
		head.Grow(keep)
		src = io.TeeReader(f, &limitedWriter{&head, keep})
	}
	n, err := io.Copy(h, src)
	if err != nil {
		return Original{}, fmt.Errorf("%s: %w", p, err)
	}
	if n != fi.Size() {
		return Original{}, fmt.Errorf("%s: %w", p, errChangedWhileReading)
	}
	o := Original{Hash: hex.EncodeToString(h.Sum(nil)), Path: path.Clean(p), Size: n, ModTime: fi.ModTime(), ID: idOf(fi)}
	if probe && head.Len() > 0 {
		pr, ok := ix.probedAlready(o.Hash)
		if !ok {
			pr = ix.probeOnce(ctx, o.Hash, head.Bytes(), int64(head.Len()) == n)
		}
		o.Width, o.Height, o.Taken, o.Placeholder = pr.Width, pr.Height, pr.Taken, pr.Placeholder
	}
	if IsRAWName(p) {
		// The preview's size, whatever the probe: a RAW without one is
		// indexed all the same (links and the picker list it) and
		// answers 415 when asked for.
		w, h, pv, err := rawProbe(f, n)
		switch {
		case err != nil:
			ix.log.Warn("index: RAW file without a usable preview; it will answer 415", "path", p, "err", err)
		case pv.Truncated:
			// Served all the same: the preview is whole (and decoded
			// before it is served); only data past it is missing.
			ix.log.Warn("index: RAW file cut short after its preview", "path", p)
		}
		if err == nil {
			o.Width, o.Height, o.Taken = w, h, pv.Taken
		}
	}
	return o, nil
}

// probedAlready returns what a probe found for the same bytes before, in
// the index (a renamed or copied file).
func (ix *Index) probedAlready(hash string) (Probed, bool) {
	ix.mu.RLock()
	o, ok := ix.byHash[hash]
	ix.mu.RUnlock()
	if ok && o.Width > 0 && (o.Placeholder.ThumbHash != "" || !ix.placeholders) {
		return Probed{Width: o.Width, Height: o.Height, Taken: o.Taken, Placeholder: o.Placeholder}, true
	}
	return Probed{}, false
}

// scanProbe is one content's probe in the running scan.
type scanProbe struct {
	once sync.Once
	pr   Probed
}

// probeOnce probes src, or returns what this scan's probe of the same
// bytes found: two workers hashing copies at the same moment share one
// probe, the second waiting for the first, instead of both decoding.
func (ix *Index) probeOnce(ctx context.Context, hash string, src []byte, complete bool) Probed {
	m := ix.scanProbes.Load()
	if m == nil {
		return ix.probe(ctx, src, complete)
	}
	v, _ := m.LoadOrStore(hash, &scanProbe{})
	sp := v.(*scanProbe)
	sp.once.Do(func() { sp.pr = ix.probe(ctx, src, complete) })
	return sp.pr
}

// limitedWriter keeps the first n bytes written and drops the rest.
type limitedWriter struct {
	b *bytes.Buffer
	n int
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	if room := w.n - w.b.Len(); room > 0 {
		w.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// Lookup finds the original for a hash.
func (ix *Index) Lookup(ctx context.Context, hash string) (Original, error) {
	ix.mu.RLock()
	o, ok := ix.byHash[hash]
	ix.mu.RUnlock()
	if !ok {
		return Original{}, ErrNotFound
	}
	return o, nil
}

// Read returns the bytes of o (for a RAW file, its preview JPEG: see
// readRAW). If the file changed since it was indexed (size or mtime
// differ) the bytes are re-hashed, so a replaced file is never served
// under the old hash.
func (ix *Index) Read(ctx context.Context, o Original) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := ix.openRegular(o.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			ix.forget(o)
			return nil, fmt.Errorf("%w: file gone", ErrNotFound)
		}
		return nil, fmt.Errorf("open original: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat original: %w", err)
	}
	if IsRAWName(o.Path) {
		return ix.readRAW(o, f, fi)
	}
	if ix.maxFileSize > 0 && fi.Size() > ix.maxFileSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, fi.Size())
	}
	buf := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			// Truncated while we read it: it is not the indexed file any
			// more; drop it until a rescan hashes what it becomes.
			ix.forget(o)
			return nil, fmt.Errorf("%w: %w", ErrNotFound, errChangedWhileReading)
		}
		return nil, fmt.Errorf("read original: %w", err)
	}
	if o.matches(fi) {
		return buf, nil
	}
	sum := sha1.Sum(buf)
	if err := ix.recheck(o, fi, hex.EncodeToString(sum[:])); err != nil {
		return nil, err
	}
	return buf, nil
}

// Open returns o's file for streaming (videos), positioned at its start.
// Like Read, a file whose size or mtime changed is re-hashed first and
// refused (and re-indexed) if its content no longer matches.
func (ix *Index) Open(ctx context.Context, o Original) (*os.File, fs.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	f, err := ix.openRegular(o.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			ix.forget(o)
			return nil, nil, fmt.Errorf("%w: file gone", ErrNotFound)
		}
		return nil, nil, fmt.Errorf("open original: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("stat original: %w", err)
	}
	if o.matches(fi) {
		return f, fi, nil
	}
	h := sha1.New()
	if n, err := io.Copy(h, f); err != nil || n != fi.Size() {
		f.Close()
		if err == nil {
			ix.forget(o)
			return nil, nil, fmt.Errorf("%w: %w", ErrNotFound, errChangedWhileReading)
		}
		return nil, nil, fmt.Errorf("read original: %w", err)
	}
	if err := ix.recheck(o, fi, hex.EncodeToString(h.Sum(nil))); err != nil {
		f.Close()
		return nil, nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// recheck compares the hash of a file whose size or mtime changed on disk
// with its entry. A different hash re-indexes the file under it (links to the new content
// work at once) and refuses the old one, so a replaced file is never served
// as the wrong photo.
func (ix *Index) recheck(o Original, fi fs.FileInfo, now string) error {
	if now == o.Hash {
		// Same bytes, new mtime: refresh the entry this read came from (a
		// rescan may have moved the hash to another path meanwhile).
		ix.mu.Lock()
		if cur, ok := ix.byHash[o.Hash]; ok && cur.Path == o.Path {
			cur.ModTime, cur.Size, cur.ID = fi.ModTime(), fi.Size(), idOf(fi)
			ix.byHash[o.Hash] = cur
		}
		ix.mu.Unlock()
		return nil
	}
	ix.forget(o)
	ix.mu.Lock()
	if cur, ok := ix.byHash[now]; !ok || o.Path < cur.Path {
		ix.byHash[now] = Original{Hash: now, Path: o.Path, Size: fi.Size(), ModTime: fi.ModTime(), ID: idOf(fi)}
	}
	ix.mu.Unlock()
	return fmt.Errorf("%w: file changed since indexing", ErrNotFound)
}

// openRegular opens p read-only through the root. O_NONBLOCK keeps a FIFO
// planted in the folder from hanging the open; anything but a regular file
// is refused.
func (ix *Index) openRegular(p string) (*os.File, error) {
	f, err := ix.root.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, errNotRegular
	}
	return f, nil
}

var (
	errNotRegular          = errors.New("not a regular file")
	errChangedWhileReading = errors.New("file changed while it was read")
)

func (ix *Index) forget(o Original) {
	ix.mu.Lock()
	if cur, ok := ix.byHash[o.Hash]; ok && cur.Path == o.Path {
		delete(ix.byHash, o.Hash)
		ix.version.Add(1)
	}
	ix.mu.Unlock()
	ix.log.Warn("index: original changed or removed; dropped", "hash", o.Hash, "path", o.Path)
}

// Resolve turns p (absolute, or relative to the originals folder) into
// the slash-separated path inside the folder, symlinks in the folder's own
// path resolved; a path outside it is an error.
func (ix *Index) Resolve(p string) (string, error) {
	if !filepath.IsAbs(p) {
		return filepath.ToSlash(filepath.Clean(p)), nil
	}
	root, err := filepath.EvalSymlinks(ix.dir)
	if err != nil {
		root = ix.dir
	}
	abs := filepath.Clean(p)
	// Resolve the folder part the caller spelled through a symlink (the
	// last element stays: os.Root decides what it may open).
	if d, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		abs = filepath.Join(d, filepath.Base(abs))
	}
	for _, r := range []string{root, ix.dir} {
		rel, err := filepath.Rel(r, abs)
		if err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return filepath.ToSlash(rel), nil
		}
	}
	return "", fmt.Errorf("%s is not inside the originals folder %s", p, ix.dir)
}

// File hashes and probes one file, as a scan would, without scanning the
// folder or adding it to the index (sign uses it). p is absolute or
// relative to the folder; it is opened through the root, so nothing
// outside the folder is read.
func (ix *Index) File(ctx context.Context, p string) (Original, error) {
	if err := ctx.Err(); err != nil {
		return Original{}, err
	}
	rel, err := ix.Resolve(p)
	if err != nil {
		return Original{}, err
	}
	o, err := ix.hashFile(ctx, rel)
	if err == nil && ix.maxFileSize > 0 && o.Size > ix.maxFileSize && !IsRAWName(rel) {
		return Original{}, fmt.Errorf("%s: %w: %d bytes", p, ErrTooLarge, o.Size)
	}
	return o, err
}
