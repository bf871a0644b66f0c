package storage_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/thumbd/thumbd/storage"
)

const photos = "../testdata/photos"

func readPhoto(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(photos, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sha(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}

func write(t *testing.T, dir, rel string, b []byte) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func open(t *testing.T, dir string, maxFileSize int64) *storage.Index {
	t.Helper()
	ix, err := storage.Open(dir, storage.Options{MaxFileSize: maxFileSize, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

// scan runs Scan with a deadline so a hang (a FIFO opened blocking) fails
// the test instead of stalling it.
func scan(t *testing.T, ix *storage.Index, workers int) storage.Stats {
	t.Helper()
	type res struct {
		st  storage.Stats
		err error
	}
	done := make(chan res, 1)
	go func() {
		st, err := ix.Scan(context.Background(), workers)
		done <- res{st, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("Scan: %v", r.err)
		}
		return r.st
	case <-time.After(30 * time.Second):
		t.Fatal("Scan did not finish in 30s (blocked on a FIFO?)")
	}
	return storage.Stats{}
}

type entry struct {
	Mode    fs.FileMode
	Size    int64
	ModTime time.Time
	Hash    string // regular files only
	Target  string // symlinks only
}

// snapshot records every entry under dir without following symlinks or
// opening FIFOs.
func snapshot(t *testing.T, dir string) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		e := entry{Mode: fi.Mode(), Size: fi.Size(), ModTime: fi.ModTime()}
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			e.Hash = sha(b)
		case fi.Mode()&fs.ModeSymlink != 0:
			e.Target, err = os.Readlink(p)
			if err != nil {
				return err
			}
		}
		if fi.IsDir() {
			e.Size, e.ModTime = 0, fi.ModTime()
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type library struct {
	root, dir string            // root holds dir and an outside folder
	want      map[string]string // hash -> path Scan must report
	outside   string            // hash of a file only reachable through an escaping symlink
	hidden    []string          // hashes of files only present at hidden paths or with ignored names
}

// newLibrary builds an originals folder of real photos plus everything Scan
// must ignore or refuse.
func newLibrary(t *testing.T) library {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "originals")
	lib := library{root: root, dir: dir, want: map[string]string{}}

	cops := readPhoto(t, "cops.jpg")
	l1 := readPhoto(t, "Landscape_1.jpg")
	l2 := readPhoto(t, "Landscape_2.jpg")
	l3 := readPhoto(t, "Landscape_3.jpg")
	l4 := readPhoto(t, "Landscape_4.jpg")
	l5 := readPhoto(t, "Landscape_5.jpg")
	dice := readPhoto(t, "dice.png")
	gif := readPhoto(t, "animated.gif")

	write(t, dir, "a/cops.jpg", cops)
	write(t, dir, "b/c/Landscape_1.jpeg", l1)
	write(t, dir, "dice.png", dice)
	write(t, dir, "anim.GIF", gif) // extension match is case-insensitive
	lib.want[sha(cops)] = "a/cops.jpg"
	lib.want[sha(l1)] = "b/c/Landscape_1.jpeg"
	lib.want[sha(dice)] = "dice.png"
	lib.want[sha(gif)] = "anim.GIF"

	// Same bytes at several paths: the lexically first path wins.
	for _, p := range []string{"z/dup.jpg", "m/dup.jpg", "dup-b.jpg", "dup-a.jpg", "y/x/dup.jpg"} {
		write(t, dir, p, l2)
	}
	lib.want[sha(l2)] = "dup-a.jpg"

	// Ignored: other extensions, hidden files and hidden folders.
	write(t, dir, "notes.txt", []byte("not a photo"))
	write(t, dir, "l5.jpg.txt", l5)
	write(t, dir, ".hidden.jpg", l5)
	write(t, dir, ".git/x.jpg", l5)
	write(t, dir, "a/.thumbs/deep/y.jpg", l5)
	lib.hidden = append(lib.hidden, sha(l5), sha([]byte("not a photo")))

	// A symlink out of the folder is refused.
	write(t, root, "outside/secret.jpg", l3)
	if err := os.Symlink(filepath.Join(root, "outside", "secret.jpg"), filepath.Join(dir, "escape.jpg")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../outside/secret.jpg", filepath.Join(dir, "a", "escape-rel.jpg")); err != nil {
		t.Fatal(err)
	}
	lib.outside = sha(l3)

	// A symlink inside the folder to a file inside is fine; the target's
	// own name is not an image name, so only the link indexes it.
	write(t, dir, "raw/l4.bin", l4)
	if err := os.Symlink("raw/l4.bin", filepath.Join(dir, "inside-link.jpg")); err != nil {
		t.Fatal(err)
	}
	lib.want[sha(l4)] = "inside-link.jpg"

	// A FIFO with an image name: skipped, and must not block the scan.
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.jpg"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A dangling symlink.
	if err := os.Symlink("nowhere.jpg", filepath.Join(dir, "dangling.jpg")); err != nil {
		t.Fatal(err)
	}
	return lib
}

func TestScan(t *testing.T) {
	lib := newLibrary(t)
	before := snapshot(t, lib.root)

	for _, workers := range []int{0, 1, 3, 16} {
		ix := open(t, lib.dir, 0)
		if ix.Dir() != lib.dir {
			t.Errorf("Dir() = %q; want %q", ix.Dir(), lib.dir)
		}
		st := scan(t, ix, workers)
		got := map[string]string{}
		for _, o := range ix.All() {
			got[o.Hash] = o.Path
		}
		if !reflect.DeepEqual(got, lib.want) {
			t.Errorf("workers=%d: index\n%v\nwant\n%v", workers, got, lib.want)
		}
		if st.Files != len(lib.want) || ix.Len() != len(lib.want) {
			t.Errorf("workers=%d: Stats.Files = %d, Len = %d; want %d", workers, st.Files, ix.Len(), len(lib.want))
		}
		// escape.jpg, a/escape-rel.jpg, fifo.jpg and dangling.jpg.
		if st.Skipped != 4 {
			t.Errorf("workers=%d: Skipped = %d; want 4", workers, st.Skipped)
		}
		for _, h := range append([]string{lib.outside}, lib.hidden...) {
			if o, err := ix.Lookup(context.Background(), h); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("workers=%d: Lookup(%s) = %+v, %v; want ErrNotFound", workers, h, o, err)
			}
		}
		all := ix.All()
		if !sort.SliceIsSorted(all, func(i, j int) bool { return all[i].Path < all[j].Path }) {
			t.Errorf("All() not sorted by path")
		}
		for _, o := range all {
			b, err := os.ReadFile(filepath.Join(lib.dir, filepath.FromSlash(o.Path)))
			if err != nil {
				t.Fatal(err)
			}
			if o.Hash != sha(b) || o.Size != int64(len(b)) {
				t.Errorf("%s: Hash, Size = %s, %d; want sha1 %s, %d", o.Path, o.Hash, o.Size, sha(b), len(b))
			}
			if o.ModTime.IsZero() {
				t.Errorf("%s: zero ModTime", o.Path)
			}
			// Read serves exactly the indexed bytes.
			rb, err := ix.Read(context.Background(), o)
			if err != nil {
				t.Fatalf("Read(%s): %v", o.Path, err)
			}
			if sha(rb) != o.Hash {
				t.Errorf("Read(%s) returned other bytes", o.Path)
			}
		}
	}

	if after := snapshot(t, lib.root); !reflect.DeepEqual(before, after) {
		t.Errorf("Scan/Read changed the folder:\nbefore %v\nafter  %v", before, after)
	}
}

func TestScanDuplicatesStable(t *testing.T) {
	// Many identical files: whatever order the workers finish in, the
	// lexically first path is kept.
	dir := t.TempDir()
	b := readPhoto(t, "cops.jpg")
	paths := []string{"q.jpg", "b/a.jpg", "a/z.jpg", "a/b.jpg", "aa.jpg", "c.jpg", "a.jpg", "B.jpg", "b.jpg"}
	for _, p := range paths {
		write(t, dir, p, b)
	}
	want := "B.jpg" // byte order: uppercase sorts first
	for i := 0; i < 20; i++ {
		ix := open(t, dir, 0)
		st := scan(t, ix, 8)
		o, err := ix.Lookup(context.Background(), sha(b))
		if err != nil {
			t.Fatal(err)
		}
		if o.Path != want {
			t.Fatalf("run %d: kept %q; want %q", i, o.Path, want)
		}
		if st.Files != 1 || st.Bytes != int64(len(b)) || ix.Len() != 1 {
			t.Fatalf("run %d: Files, Bytes, Len = %d, %d, %d; want 1, %d, 1", i, st.Files, st.Bytes, ix.Len(), len(b))
		}
	}
}

func TestScanReplacesIndex(t *testing.T) {
	dir := t.TempDir()
	cops := readPhoto(t, "cops.jpg")
	dice := readPhoto(t, "dice.png")
	write(t, dir, "cops.jpg", cops)
	ix := open(t, dir, 0)
	scan(t, ix, 2)
	if err := os.Remove(filepath.Join(dir, "cops.jpg")); err != nil {
		t.Fatal(err)
	}
	write(t, dir, "dice.png", dice)
	scan(t, ix, 2)
	if _, err := ix.Lookup(context.Background(), sha(cops)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("removed file still indexed after rescan: %v", err)
	}
	if o, err := ix.Lookup(context.Background(), sha(dice)); err != nil || o.Path != "dice.png" {
		t.Errorf("Lookup(dice) = %+v, %v", o, err)
	}
}

func TestScanCanceled(t *testing.T) {
	lib := newLibrary(t)
	ix := open(t, lib.dir, 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ix.Scan(ctx, 2); !errors.Is(err, context.Canceled) {
		t.Fatalf("Scan(canceled) = %v; want context.Canceled", err)
	}
	if ix.Len() != 0 {
		t.Errorf("canceled scan filled the index with %d entries", ix.Len())
	}
}

func TestLookupUnknown(t *testing.T) {
	lib := newLibrary(t)
	ix := open(t, lib.dir, 0)
	scan(t, ix, 0)
	for _, h := range []string{"", "0000000000000000000000000000000000000000", "not-a-hash", lib.outside} {
		o, err := ix.Lookup(context.Background(), h)
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Lookup(%q) = %+v, %v; want ErrNotFound", h, o, err)
		}
	}
}

func TestReadChanges(t *testing.T) {
	cops := readPhoto(t, "cops.jpg")
	dice := readPhoto(t, "dice.png")
	for _, tc := range []struct {
		name    string
		change  func(t *testing.T, p string)
		wantErr error // nil: Read succeeds with the original bytes
		keep    bool  // entry still indexed afterwards
	}{
		{"unchanged", func(t *testing.T, p string) {}, nil, true},
		{"touched mtime only", func(t *testing.T, p string) {
			future := time.Now().Add(time.Hour)
			if err := os.Chtimes(p, future, future); err != nil {
				t.Fatal(err)
			}
		}, nil, true},
		{"new bytes, new size, new mtime", func(t *testing.T, p string) {
			write(t, filepath.Dir(p), filepath.Base(p), dice)
			future := time.Now().Add(time.Hour)
			if err := os.Chtimes(p, future, future); err != nil {
				t.Fatal(err)
			}
		}, storage.ErrNotFound, false},
		{"new bytes, same size, new mtime", func(t *testing.T, p string) {
			b := append([]byte(nil), cops...)
			b[len(b)/2] ^= 0xff
			write(t, filepath.Dir(p), filepath.Base(p), b)
			future := time.Now().Add(time.Hour)
			if err := os.Chtimes(p, future, future); err != nil {
				t.Fatal(err)
			}
		}, storage.ErrNotFound, false},
		{"replaced by rename", func(t *testing.T, p string) {
			tmp := p + ".new"
			if err := os.WriteFile(tmp, dice, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, p); err != nil {
				t.Fatal(err)
			}
		}, storage.ErrNotFound, false},
		{"deleted", func(t *testing.T, p string) {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}, storage.ErrNotFound, false},
		{"replaced by a folder", func(t *testing.T, p string) {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}, errAny, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, "sub/photo.jpg", cops)
			ix := open(t, dir, 0)
			scan(t, ix, 1)
			o, err := ix.Lookup(context.Background(), sha(cops))
			if err != nil {
				t.Fatal(err)
			}
			if o.Path != "sub/photo.jpg" {
				t.Fatalf("Path = %q", o.Path)
			}
			tc.change(t, filepath.Join(dir, "sub", "photo.jpg"))
			b, err := ix.Read(context.Background(), o)
			switch {
			case tc.wantErr == nil:
				if err != nil {
					t.Fatalf("Read: %v", err)
				}
				if sha(b) != sha(cops) {
					t.Fatalf("Read returned other bytes")
				}
			case tc.wantErr == errAny:
				if err == nil {
					t.Fatalf("Read = %d bytes; want an error", len(b))
				}
			default:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Read = %d bytes, %v; want %v", len(b), err, tc.wantErr)
				}
				if b != nil {
					t.Errorf("Read returned %d bytes with an error", len(b))
				}
			}
			if tc.wantErr == errAny {
				return
			}
			_, lerr := ix.Lookup(context.Background(), sha(cops))
			if tc.keep && lerr != nil {
				t.Errorf("entry dropped: %v", lerr)
			}
			if !tc.keep && !errors.Is(lerr, storage.ErrNotFound) {
				t.Errorf("Lookup after Read = %v; want the entry dropped (ErrNotFound)", lerr)
			}
			if !tc.keep {
				// A second Read with the stale entry still fails.
				if _, err := ix.Read(context.Background(), o); err == nil {
					t.Errorf("second Read of a dropped entry succeeded")
				}
			}
		})
	}
}

var errAny = errors.New("any error")

func TestReadTouchUpdatesEntry(t *testing.T) {
	dir := t.TempDir()
	cops := readPhoto(t, "cops.jpg")
	write(t, dir, "cops.jpg", cops)
	ix := open(t, dir, 0)
	scan(t, ix, 1)
	o, _ := ix.Lookup(context.Background(), sha(cops))
	future := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	if err := os.Chtimes(filepath.Join(dir, "cops.jpg"), future, future); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.Read(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	o2, err := ix.Lookup(context.Background(), sha(cops))
	if err != nil {
		t.Fatal(err)
	}
	if !o2.ModTime.Equal(future) {
		t.Errorf("ModTime after re-verify = %v; want %v", o2.ModTime, future)
	}
	// The old entry (stale mtime) still reads: same bytes.
	if _, err := ix.Read(context.Background(), o); err != nil {
		t.Errorf("Read with stale entry: %v", err)
	}
}

func TestReadLimitsAndContext(t *testing.T) {
	dir := t.TempDir()
	cops := readPhoto(t, "cops.jpg") // 42521 bytes
	write(t, dir, "cops.jpg", cops)
	for _, tc := range []struct {
		name string
		max  int64
		want error
	}{
		{"no limit", 0, nil},
		{"limit above", int64(len(cops)) + 1, nil},
		{"limit exact", int64(len(cops)), nil},
		{"limit below", int64(len(cops)) - 1, storage.ErrTooLarge},
		{"limit tiny", 1000, storage.ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ix := open(t, dir, tc.max)
			st := scan(t, ix, 1)
			o, err := ix.Lookup(context.Background(), sha(cops))
			if tc.want != nil {
				// Over the limit: skipped and counted at index time, never read.
				if !errors.Is(err, storage.ErrNotFound) || st.TooLarge != 1 {
					t.Fatalf("Lookup = %v, TooLarge = %d; want not found and 1", err, st.TooLarge)
				}
				// A file that grows past the limit after indexing is
				// refused when read.
				small := t.TempDir()
				write(t, small, "cops.jpg", cops[:tc.max])
				ix = open(t, small, tc.max)
				scan(t, ix, 1)
				if o, err = ix.Lookup(context.Background(), sha(cops[:tc.max])); err != nil {
					t.Fatal(err)
				}
				write(t, small, "cops.jpg", cops)
			} else if err != nil {
				t.Fatal(err)
			}
			b, err := ix.Read(context.Background(), o)
			if tc.want == nil {
				if err != nil || len(b) != len(cops) {
					t.Fatalf("Read = %d bytes, %v", len(b), err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Read = %d bytes, %v; want %v", len(b), err, tc.want)
			}
		})
	}
	t.Run("canceled context", func(t *testing.T) {
		ix := open(t, dir, 0)
		scan(t, ix, 1)
		o, _ := ix.Lookup(context.Background(), sha(cops))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := ix.Read(ctx, o); !errors.Is(err, context.Canceled) {
			t.Fatalf("Read(canceled) = %v; want context.Canceled", err)
		}
	})
	t.Run("forged entry outside the folder", func(t *testing.T) {
		ix := open(t, dir, 0)
		outside := filepath.Join(t.TempDir(), "x.jpg")
		write(t, filepath.Dir(outside), "x.jpg", cops)
		for _, p := range []string{"../" + filepath.Base(filepath.Dir(outside)) + "/x.jpg", outside} {
			_, err := ix.Read(context.Background(), storage.Original{Hash: sha(cops), Path: p, Size: int64(len(cops))})
			if err == nil {
				t.Errorf("Read(%q) outside the folder succeeded", p)
			}
		}
	})
}

// File hashes one path inside the folder, absolute or relative, and
// nothing outside it.
func TestFile(t *testing.T) {
	lib := newLibrary(t)
	cops := readPhoto(t, "cops.jpg")
	before := snapshot(t, lib.root)
	relDir, err := filepath.Rel(mustGetwd(t), lib.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir, path string
		want            string // "" = error
	}{
		{"relative", lib.dir, "a/cops.jpg", sha(cops)},
		{"relative with dot", lib.dir, "./a/../a/cops.jpg", sha(cops)},
		{"absolute inside", lib.dir, filepath.Join(lib.dir, "a", "cops.jpg"), sha(cops)},
		{"relative dir", relDir, "a/cops.jpg", sha(cops)},
		{"relative dir, absolute path", relDir, filepath.Join(lib.dir, "a", "cops.jpg"), sha(cops)},
		{"repo photos", photos, "cops.jpg", sha(cops)},
		{"inside symlink", lib.dir, "inside-link.jpg", lib.wantHash("inside-link.jpg")},
		{"absolute outside", lib.dir, filepath.Join(lib.root, "outside", "secret.jpg"), ""},
		{"relative outside", lib.dir, "../outside/secret.jpg", ""},
		{"absolute sibling prefix", lib.dir, lib.dir + "-evil/x.jpg", ""},
		{"escaping symlink", lib.dir, "escape.jpg", ""},
		{"fifo", lib.dir, "fifo.jpg", ""},
		{"missing", lib.dir, "nope.jpg", ""},
		{"folder", lib.dir, "a", ""},
		{"outside repo file", photos, "../../go.mod", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := open(t, tc.dir, 0).File(context.Background(), tc.path)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("File(%q, %q) = %+v; want an error", tc.dir, tc.path, o)
				}
				return
			}
			if err != nil {
				t.Fatalf("File(%q, %q): %v", tc.dir, tc.path, err)
			}
			if o.Hash != tc.want || strings.HasPrefix(o.Path, "/") || strings.Contains(o.Path, "..") {
				t.Errorf("File = %+v; want hash %s and a path inside the folder", o, tc.want)
			}
		})
	}
	if after := snapshot(t, lib.root); !reflect.DeepEqual(before, after) {
		t.Errorf("File changed the folder")
	}
}

func (l library) wantHash(path string) string {
	for h, p := range l.want {
		if p == path {
			return h
		}
	}
	return "missing:" + path
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

func TestIsImageName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"a.jpg", true}, {"a.JPG", true}, {"a.jpeg", true}, {"a.jpe", true}, {"a.png", true},
		{"a.webp", true}, {"a.gif", true}, {"a.tif", true}, {"a.tiff", true}, {"a.heic", true},
		{"a.HEIF", true}, {"a.avif", true},
		{"a.txt", false}, {"a.jpg.txt", false}, {"jpg", false}, {"a.svg", false}, {"a.pdf", false}, {"", false},
	} {
		if got := storage.IsImageName(tc.name); got != tc.ok {
			t.Errorf("IsImageName(%q) = %v; want %v", tc.name, got, tc.ok)
		}
	}
}

// A file rewritten after indexing is served under its new hash at once, and
// no longer under the old one.
func TestReadReindexesChangedFile(t *testing.T) {
	dir := t.TempDir()
	a, err := os.ReadFile("../testdata/photos/cops.jpg")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../testdata/photos/dice.png")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "photo.jpg")
	if err := os.WriteFile(p, a, 0o644); err != nil {
		t.Fatal(err)
	}
	ix, err := storage.Open(dir, storage.Options{MaxFileSize: 0, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if _, err := ix.Scan(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	oldHash := fmt.Sprintf("%x", sha1.Sum(a))
	newHash := fmt.Sprintf("%x", sha1.Sum(b))
	o, err := ix.Lookup(context.Background(), oldHash)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.Read(context.Background(), o); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("old hash after rewrite: %v, want ErrNotFound", err)
	}
	if _, err := ix.Lookup(context.Background(), oldHash); !errors.Is(err, storage.ErrNotFound) {
		t.Error("old hash still indexed")
	}
	n, err := ix.Lookup(context.Background(), newHash)
	if err != nil || n.Path != "photo.jpg" {
		t.Fatalf("new hash: %+v, %v", n, err)
	}
	got, err := ix.Read(context.Background(), n)
	if err != nil || len(got) != len(b) {
		t.Fatalf("read under new hash: %d bytes, %v", len(got), err)
	}
}

// A file rewritten in place with its size and mtime put back (the edit
// `touch -r` hides) is still noticed: its ctime moved. Reads refuse the old
// hash and rescans re-hash it.
func TestInPlaceEditWithRestoredMtimeIsNoticed(t *testing.T) {
	for _, how := range []string{"read", "rescan", "index file"} {
		t.Run(how, func(t *testing.T) {
			dir := t.TempDir()
			orig := readPhoto(t, "cops.jpg")
			write(t, dir, "a.jpg", orig)
			p := filepath.Join(dir, "a.jpg")
			before, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			ix := open(t, dir, 0)
			scan(t, ix, 1)
			if how == "index file" {
				idx := filepath.Join(t.TempDir(), "index")
				if err := ix.SaveIndexFile(idx); err != nil {
					t.Fatal(err)
				}
				ix = open(t, dir, 0)
				if _, err := ix.LoadIndexFile(idx); err != nil {
					t.Fatal(err)
				}
			}
			edited := append([]byte(nil), orig...)
			edited[len(edited)/2] ^= 0xFF // same size, different bytes
			// Rewrite in place (same inode), then restore the mtime.
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(edited, 0); err != nil {
				t.Fatal(err)
			}
			f.Close()
			if err := os.Chtimes(p, before.ModTime(), before.ModTime()); err != nil {
				t.Fatal(err)
			}
			if how == "read" {
				o, err := ix.Lookup(context.Background(), sha(orig))
				if err != nil {
					t.Fatal(err)
				}
				if b, err := ix.Read(context.Background(), o); err == nil {
					t.Fatalf("Read served %d bytes of the edited file under the old hash", len(b))
				} else if !errors.Is(err, storage.ErrNotFound) {
					t.Fatalf("Read = %v; want ErrNotFound", err)
				}
				return
			}
			st := scan(t, ix, 1)
			if st.Hashed != 1 {
				t.Errorf("rescan hashed %d files; want 1 (the edited one)", st.Hashed)
			}
			if _, err := ix.Lookup(context.Background(), sha(orig)); err == nil {
				t.Error("old hash still indexed after the rescan")
			}
			if _, err := ix.Lookup(context.Background(), sha(edited)); err != nil {
				t.Errorf("new hash not indexed: %v", err)
			}
		})
	}
}

// A file truncated while it is read answers "not found" (it is no longer
// the indexed photo), never an internal error.
func TestTruncatedDuringReadIsNotFound(t *testing.T) {
	dir := t.TempDir()
	big := bytes.Repeat(readPhoto(t, "cops.jpg"), 200) // ~8 MB
	p := filepath.Join(dir, "big.jpg")
	write(t, dir, "big.jpg", big)
	ix := open(t, dir, 0)
	scan(t, ix, 1)
	o, err := ix.Lookup(context.Background(), sha(big))
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = os.Truncate(p, int64(len(big)/3))
			_ = os.WriteFile(p, big, 0o644)
		}
	}()
	defer func() { close(stop); <-done }()
	for range 200 {
		if _, err := ix.Read(context.Background(), o); err != nil && !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Read during truncation = %v; want success or ErrNotFound", err)
		}
	}
}
