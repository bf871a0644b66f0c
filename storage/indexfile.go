package storage

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/thumbd/thumbd/placeholder"
)

// The index file lets a restart skip re-hashing: one JSON object per line,
// after a header line naming the format, written atomically. It lives
// outside the originals folder (thumbd never writes there).
const indexFileHeader = `{"thumbd_index":1}`

// indexFileHeader2 adds the device of the originals folder, so entries
// read on another mount (another pod of an NFS share) compare inode and
// ctime but not the device number, which differs between mounts.
type header2 struct {
	Version int    `json:"thumbd_index"`
	Dev     uint64 `json:"dev"`
	// Placeholders says the entries were probed for placeholders (an entry
	// without one failed and is not retried). Older readers ignore it, and
	// older files without it are read, their entries probed again once.
	Placeholders bool `json:"ph,omitempty"`
}

type indexLine struct {
	Path   string `json:"p"`
	Hash   string `json:"h"`
	Size   int64  `json:"s"`
	MTime  int64  `json:"m"` // unix nanoseconds
	Width  int    `json:"w,omitempty"`
	Height int    `json:"hh,omitempty"`
	Taken  int64  `json:"t,omitempty"` // unix seconds of the camera's local time read as UTC
	Ino    uint64 `json:"i,omitempty"`
	Dev    uint64 `json:"d,omitempty"`
	Ctime  int64  `json:"c,omitempty"` // unix nanoseconds
	// The placeholder (see package placeholder).
	ThumbHash string `json:"th,omitempty"`
	BlurHash  string `json:"bh,omitempty"`
	Color     string `json:"co,omitempty"`
}

// rootDev is the device the originals folder is on.
func (ix *Index) rootDev() uint64 {
	fi, err := ix.root.Stat(".")
	if err != nil {
		return 0
	}
	return idOf(fi).Dev
}

// LoadIndexFile primes the index with entries from a previous run; files
// whose size and mtime still match are not re-hashed by the next Scan. A
// missing file is not an error (first run).
func (ix *Index) LoadIndexFile(path string) (int, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	first, rest, _ := bytes.Cut(data, []byte("\n"))
	var hdr header2
	if len(data) == 0 || string(first) != indexFileHeader && (json.Unmarshal(first, &hdr) != nil || hdr.Version != 2) {
		return 0, fmt.Errorf("%s: not a thumbd index file", path)
	}
	sameDev := hdr.Dev != 0 && hdr.Dev == ix.rootDev()
	lines := bytes.Split(bytes.TrimSuffix(rest, []byte("\n")), []byte("\n"))
	if len(rest) == 0 {
		lines = nil
	}
	// Decoding is most of a restart's time (100k lines), so the lines are
	// decoded in parallel, one part per CPU.
	all := make([]Original, len(lines))
	parts := min(runtime.GOMAXPROCS(0), max(1, len(lines)/1000))
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for i := range parts {
		lo, hi := i*len(lines)/parts, (i+1)*len(lines)/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := lo; j < hi; j++ {
				o, ok := decodeIndexLine(lines[j], sameDev)
				if !ok {
					errs[i] = fmt.Errorf("%s: bad line %d", path, j+2)
					return
				}
				all[j] = o
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	known := make(map[string]Original, len(all))
	for _, o := range all {
		known[o.Path] = o
	}
	ix.mu.Lock()
	ix.known = known
	ix.knownPlaceholders = hdr.Placeholders
	ix.mu.Unlock()
	return len(known), nil
}

// decodeIndexLine reads one entry of an index file.
func decodeIndexLine(b []byte, sameDev bool) (Original, bool) {
	var l indexLine
	if err := json.Unmarshal(b, &l); err != nil || l.Path == "" || len(l.Hash) != 40 {
		return Original{}, false
	}
	o := Original{Hash: l.Hash, Path: l.Path, Size: l.Size, ModTime: time.Unix(0, l.MTime), Width: l.Width, Height: l.Height,
		ID:          FileID{Ino: l.Ino, Ctime: l.Ctime},
		Placeholder: placeholder.Placeholder{ThumbHash: l.ThumbHash, BlurHash: l.BlurHash, Color: l.Color}}
	if sameDev {
		o.ID.Dev = l.Dev
	}
	if l.Taken != 0 {
		o.Taken = time.Unix(l.Taken, 0).UTC()
	}
	return o, true
}

// SaveIndexFile writes the current index to path atomically (temp file in
// the same folder, then rename).
func (ix *Index) SaveIndexFile(path string) error {
	ix.mu.RLock()
	all := make([]Original, 0, len(ix.known))
	for _, o := range ix.known {
		all = append(all, o)
	}
	withPlaceholders := ix.knownPlaceholders
	ix.mu.RUnlock()
	sort.Slice(all, func(i, j int) bool { return all[i].Path < all[j].Path })
	tmp, err := os.CreateTemp(filepath.Dir(path), ".thumbd-index-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	enc := json.NewEncoder(w)
	if err := enc.Encode(header2{Version: 2, Dev: ix.rootDev(), Placeholders: withPlaceholders}); err != nil {
		return err
	}
	for _, o := range all {
		l := indexLine{Path: o.Path, Hash: o.Hash, Size: o.Size, MTime: o.ModTime.UnixNano(), Width: o.Width, Height: o.Height,
			Ino: o.ID.Ino, Dev: o.ID.Dev, Ctime: o.ID.Ctime,
			ThumbHash: o.Placeholder.ThumbHash, BlurHash: o.Placeholder.BlurHash, Color: o.Placeholder.Color}
		if !o.Taken.IsZero() {
			l.Taken = o.Taken.Unix()
		}
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
