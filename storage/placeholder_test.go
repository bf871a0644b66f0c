package storage_test

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/thumbd/thumbd/placeholder"
	"github.com/thumbd/thumbd/storage"
)

// byteProbe stands in for the libvips probe (storage has no cgo): it
// derives a "placeholder" from the bytes it is shown and counts calls, so
// the tests see what the index hands a probe and what it keeps.
type byteProbe struct {
	calls, complete atomic.Int64
}

func (p *byteProbe) probe(_ context.Context, src []byte, complete bool) storage.Probed {
	p.calls.Add(1)
	pr := storage.Probed{Width: 10, Height: 20}
	if complete {
		p.complete.Add(1)
		sum := sha1.Sum(src)
		pr.Placeholder = placeholder.Placeholder{ThumbHash: base64.StdEncoding.EncodeToString(sum[:4]), BlurHash: "LEHV6nWB2yk8pyo0adR*.7kCMdnj", Color: "#102030"}
	}
	return pr
}

func openProbed(t *testing.T, dir string, p *byteProbe) *storage.Index {
	t.Helper()
	ix, err := storage.Open(dir, storage.Options{Probe: p.probe, Placeholders: true, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

// The probe sees each image file whole; its placeholder is kept in the
// index and in the index file, so a restart probes nothing again. An index
// file written before placeholders (no "ph" in its header) is still read:
// its entries are probed once more to gain them.
func TestPlaceholdersInIndexAndIndexFile(t *testing.T) {
	dir := t.TempDir()
	photo := readPhoto(t, "cops.jpg")
	write(t, dir, "a/cops.jpg", photo)
	write(t, dir, "b.png", readPhoto(t, "dice.png"))
	idx := filepath.Join(t.TempDir(), "index.jsonl")

	p := &byteProbe{}
	ix := openProbed(t, dir, p)
	scan(t, ix, 2)
	if p.calls.Load() != 2 || p.complete.Load() != 2 {
		t.Fatalf("probe calls %d (complete %d), want 2 whole files", p.calls.Load(), p.complete.Load())
	}
	want := p.probe(context.Background(), photo, true).Placeholder
	o, err := ix.Lookup(context.Background(), sha(photo))
	if err != nil || o.Placeholder != want {
		t.Fatalf("cops.jpg placeholder %+v, %v; want %+v", o.Placeholder, err, want)
	}
	if err := ix.SaveIndexFile(idx); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(idx)
	if !strings.Contains(strings.SplitN(string(raw), "\n", 2)[0], `"ph":true`) || !strings.Contains(string(raw), `"th":"`+want.ThumbHash+`"`) {
		t.Fatalf("index file lacks the placeholders:\n%s", raw)
	}

	// A restart from the index file probes nothing.
	p2 := &byteProbe{}
	ix2 := openProbed(t, dir, p2)
	if _, err := ix2.LoadIndexFile(idx); err != nil {
		t.Fatal(err)
	}
	if st := scan(t, ix2, 2); st.Reused != 2 || p2.calls.Load() != 0 {
		t.Fatalf("restart: %+v, %d probe calls; want 2 reused, none", st, p2.calls.Load())
	}
	if o, _ := ix2.Lookup(context.Background(), sha(photo)); o.Placeholder != want {
		t.Errorf("placeholder after restart: %+v, want %+v", o.Placeholder, want)
	}

	// An index file from before placeholders: read, then probed once.
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	lines[0] = strings.Replace(lines[0], `,"ph":true`, "", 1)
	for i := 1; i < len(lines); i++ {
		for _, k := range []string{"th", "bh", "co"} {
			if j := strings.Index(lines[i], `,"`+k+`":"`); j >= 0 {
				end := strings.Index(lines[i][j+len(k)+5:], `"`) + j + len(k) + 6
				lines[i] = lines[i][:j] + lines[i][end:]
			}
		}
	}
	old := strings.Join(lines, "\n") + "\n"
	if strings.Contains(old, `"th"`) || strings.Contains(old, `"ph"`) {
		t.Fatalf("could not write an old-style file:\n%s", old)
	}
	os.WriteFile(idx, []byte(old), 0o644)
	p3 := &byteProbe{}
	ix3 := openProbed(t, dir, p3)
	if n, err := ix3.LoadIndexFile(idx); err != nil || n != 2 {
		t.Fatalf("old index file: %d entries, %v", n, err)
	}
	if st := scan(t, ix3, 2); st.Hashed != 2 || p3.complete.Load() != 2 {
		t.Fatalf("old index file: %+v, %d probes; want both probed again", st, p3.complete.Load())
	}
	if o, _ := ix3.Lookup(context.Background(), sha(photo)); o.Placeholder != want {
		t.Errorf("placeholder after upgrade: %+v", o.Placeholder)
	}
	// ...and only once: the next scan reuses them.
	if st := scan(t, ix3, 2); st.Reused != 2 || p3.calls.Load() != 2 {
		t.Errorf("second scan after upgrade: %+v, %d probe calls", st, p3.calls.Load())
	}
}

// The same bytes at several paths (copies, hard links, a rename) are
// probed once: the probe decodes pixels, hashing only reads.
func TestProbeOncePerContent(t *testing.T) {
	dir := t.TempDir()
	photo := readPhoto(t, "cops.jpg")
	for _, p := range []string{"a.jpg", "b/a.jpg", "c/d/a.jpg"} {
		write(t, dir, p, photo)
	}
	p := &byteProbe{}
	ix := openProbed(t, dir, p)
	scan(t, ix, 2)
	if n := p.calls.Load(); n != 1 {
		t.Errorf("three copies probed %d times, want once", n)
	}
	// A rename: the new path is hashed, its probe comes from the index.
	if err := os.Rename(filepath.Join(dir, "a.jpg"), filepath.Join(dir, "e.jpg")); err != nil {
		t.Fatal(err)
	}
	scan(t, ix, 2)
	if n := p.calls.Load(); n != 1 {
		t.Errorf("after a rename: %d probes, want still 1", n)
	}
	for _, o := range ix.All() {
		if o.Placeholder.ThumbHash == "" || o.Width != 10 {
			t.Errorf("%s lost its probe: %+v", o.Path, o)
		}
	}
}
