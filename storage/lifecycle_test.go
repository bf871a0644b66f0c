package storage_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/thumbd/thumbd/storage"
)

func copyTo(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "photos", n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func openIx(t *testing.T, dir string) *storage.Index {
	t.Helper()
	ix, err := storage.Open(dir, storage.Options{MaxFileSize: 0, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

// A restart with an index file hashes only what changed.
func TestIndexFileSkipsUnchangedFiles(t *testing.T) {
	dir := t.TempDir()
	copyTo(t, dir, "cops.jpg", "dice.png", "Landscape_1.jpg")
	idx := filepath.Join(t.TempDir(), "index.jsonl")
	ctx := context.Background()

	first := openIx(t, dir)
	st, err := first.Scan(ctx, 2)
	if err != nil || st.Hashed != 3 || st.Reused != 0 || !st.Changed {
		t.Fatalf("first scan: %+v, %v", st, err)
	}
	if err := first.SaveIndexFile(idx); err != nil {
		t.Fatal(err)
	}

	// "Restart": a new index loads the file; nothing changed.
	second := openIx(t, dir)
	if n, err := second.LoadIndexFile(idx); err != nil || n != 3 {
		t.Fatalf("load: %d entries, %v", n, err)
	}
	st, err = second.Scan(ctx, 2)
	if err != nil || st.Hashed != 0 || st.Reused != 3 || st.Files != 3 || st.Changed {
		t.Fatalf("restart scan: %+v, %v; want 0 hashed, 3 reused, unchanged", st, err)
	}

	// One file changes: only it is hashed again, under its new hash.
	later := time.Now().Add(time.Minute)
	b, _ := os.ReadFile(filepath.Join("..", "testdata", "photos", "Landscape_2.jpg"))
	os.WriteFile(filepath.Join(dir, "cops.jpg"), b, 0o644)
	os.Chtimes(filepath.Join(dir, "cops.jpg"), later, later)
	third := openIx(t, dir)
	third.LoadIndexFile(idx)
	st, err = third.Scan(ctx, 2)
	if err != nil || st.Hashed != 1 || st.Reused != 2 || !st.Changed {
		t.Fatalf("after a change: %+v, %v; want 1 hashed, 2 reused", st, err)
	}
	// One file goes away: nothing to hash, but the index file is stale.
	os.Remove(filepath.Join(dir, "dice.png"))
	fourth := openIx(t, dir)
	fourth.LoadIndexFile(idx)
	if st, err = fourth.Scan(ctx, 2); err != nil || st.Hashed != 1 || st.Reused != 1 || !st.Changed {
		t.Fatalf("after a removal: %+v, %v", st, err)
	}
	h := hashFile(t, dir, "cops.jpg")
	if o, err := third.Lookup(ctx, h); err != nil || o.Path != "cops.jpg" {
		t.Fatalf("changed file not under its new hash: %v", err)
	}

	// A damaged index file is reported, not trusted.
	os.WriteFile(idx, []byte("garbage\n"), 0o644)
	if _, err := openIx(t, dir).LoadIndexFile(idx); err == nil {
		t.Error("garbage index file accepted")
	}
	// A missing one is a first run.
	if n, err := openIx(t, dir).LoadIndexFile(filepath.Join(t.TempDir(), "none")); err != nil || n != 0 {
		t.Errorf("missing index file: %d, %v", n, err)
	}
}

// While serving, files added, changed and removed are picked up: by inotify
// shortly after the change, and by the periodic rescan without it.
func TestWatchPicksUpChanges(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval time.Duration
		inotify  bool
	}{{"inotify", 0, true}, {"rescan interval", time.Second, false}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			copyTo(t, dir, "cops.jpg", "dice.png")
			ix := openIx(t, dir)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if _, err := ix.Scan(ctx, 1); err != nil {
				t.Fatal(err)
			}
			rescans := make(chan struct{}, 16)
			go ix.Watch(ctx, tc.interval, tc.inotify, 1, func(storage.Stats, error) {
				select {
				case rescans <- struct{}{}:
				default:
				}
			})
			if tc.inotify {
				<-rescans // the catch-up rescan: the watches are in place
			}

			diceHash, copHash := hashFile(t, dir, "dice.png"), hashFile(t, dir, "cops.jpg")
			os.MkdirAll(filepath.Join(dir, "2024"), 0o755)
			copyTo(t, filepath.Join(dir), "Landscape_1.jpg")
			os.Rename(filepath.Join(dir, "Landscape_1.jpg"), filepath.Join(dir, "2024", "new.jpg"))
			os.Remove(filepath.Join(dir, "dice.png"))
			b, _ := os.ReadFile(filepath.Join("..", "testdata", "photos", "Landscape_3.jpg"))
			os.WriteFile(filepath.Join(dir, "cops.jpg"), b, 0o644)
			newHash, changedHash := hashFile(t, dir, "2024/new.jpg"), hashFile(t, dir, "cops.jpg")

			deadline := time.Now().Add(15 * time.Second)
			for time.Now().Before(deadline) {
				_, errNew := ix.Lookup(ctx, newHash)
				_, errChanged := ix.Lookup(ctx, changedHash)
				_, errGone := ix.Lookup(ctx, diceHash)
				_, errOld := ix.Lookup(ctx, copHash)
				if errNew == nil && errChanged == nil && errGone != nil && errOld != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
			t.Fatalf("index did not follow the changes: %d entries", ix.Len())
		})
	}
}

// hashFile is the SHA-1 of a file, as the index names it.
func hashFile(t *testing.T, dir, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, rel))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(b)
	return hex.EncodeToString(sum[:])
}

// The walk descends into folders (not hidden ones), and a restart reuses
// entries found in them.
func TestIndexFileNestedFolders(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"2024/01", "2024/02", ".thumbs"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	copyTo(t, filepath.Join(dir, "2024", "01"), "cops.jpg")
	copyTo(t, filepath.Join(dir, "2024", "02"), "dice.png")
	copyTo(t, filepath.Join(dir, ".thumbs"), "Landscape_1.jpg")
	copyTo(t, dir, "Landscape_1.jpg")
	idx := filepath.Join(t.TempDir(), "index.jsonl")
	first := openIx(t, dir)
	if st, err := first.Scan(context.Background(), 2); err != nil || st.Hashed != 3 || st.Files != 3 {
		t.Fatalf("first scan: %+v, %v", st, err)
	}
	first.SaveIndexFile(idx)
	second := openIx(t, dir)
	second.LoadIndexFile(idx)
	if st, err := second.Scan(context.Background(), 2); err != nil || st.Reused != 3 || st.Hashed != 0 || st.Changed {
		t.Fatalf("restart: %+v, %v", st, err)
	}
	var paths []string
	for _, o := range second.All() {
		paths = append(paths, o.Path)
	}
	sort.Strings(paths)
	if want := []string{"2024/01/cops.jpg", "2024/02/dice.png", "Landscape_1.jpg"}; !slices.Equal(paths, want) {
		t.Fatalf("paths %v, want %v", paths, want)
	}
}
