package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runCode runs the binary and returns stdout, stderr and the exit code.
func runCode(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "THUMBD_KEYS=", "THUMBD_CONFIG=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), errb.String(), 0
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode()
	}
	t.Fatalf("thumbd %v: %v", args, err)
	return "", "", -1
}

type manifestEntry struct {
	Path   string `json:"path"`
	Hash   string `json:"hash"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Taken  string `json:"taken"`
}

func manifest(t *testing.T, out string) map[string]manifestEntry {
	t.Helper()
	var entries []manifestEntry
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("links output is not a JSON manifest: %v\n%s", err, out)
	}
	m := map[string]manifestEntry{}
	for _, e := range entries {
		m[e.Path] = e
	}
	return m
}

// The nightly CronJob runs `thumbd index`; pods then start from its file.
// The entries it writes carry dimensions (upright) and dates, serve reuses
// them without hashing anything again, and the picker and `links` show them.
func TestIndexThenServeAndLinksKeepDimensionsAndDates(t *testing.T) {
	lib := t.TempDir()
	for dir, names := range map[string][]string{"2020": {"test_exif_full.jpg", "Landscape_6.jpg"}, "misc": {"dice.png"}} {
		src := copyPhotos(t, names...)
		if err := os.MkdirAll(filepath.Join(lib, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if err := os.Rename(filepath.Join(src, n), filepath.Join(lib, dir, n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	state := t.TempDir()
	cfg := filepath.Join(state, "thumbd.yaml")
	index := filepath.Join(state, "index.jsonl")
	conf := fmt.Sprintf("originals: %q\nkeys: [%q]\nindex_file: %q\nlinks_page: true\n", lib, key1, index)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}

	out, stderr, code := runCode(t, "index", "--config", cfg)
	if code != 0 || !strings.Contains(out, "indexed 3 files (3 hashed") {
		t.Fatalf("thumbd index: exit %d\n%s%s", code, out, stderr)
	}
	want := map[string]manifestEntry{
		"2020/test_exif_full.jpg": {Width: 3024, Height: 4032, Taken: "2020-07-28T19:18:49"}, // orientation 6
		"2020/Landscape_6.jpg":    {Width: 1600, Height: 1200},                               // EXIF orientation 6: turned
		"misc/dice.png":           {Width: 800, Height: 600},
	}
	check := func(who string, got map[string]manifestEntry) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s: %d photos, want %d: %+v", who, len(got), len(want), got)
		}
		for p, w := range want {
			g := got[p]
			if g.Width != w.Width || g.Height != w.Height || g.Taken != w.Taken {
				t.Errorf("%s: %s = %dx%d taken %q; want %dx%d taken %q", who, p, g.Width, g.Height, g.Taken, w.Width, w.Height, w.Taken)
			}
		}
	}
	check("links after index", manifest(t, run(t, "links", "--config", cfg)))

	// serve starts from the index file and hashes nothing.
	p := start(t, "--config", cfg)
	if s := p.stderr.String(); !strings.Contains(s, `"hashed":0`) || !strings.Contains(s, `"reused":3`) {
		t.Errorf("serve did not reuse the index file's entries:\n%s", s)
	}
	for path, w := range want {
		var hash string
		for _, e := range manifest(t, run(t, "links", "--config", cfg)) {
			if e.Path == path {
				hash = e.Hash
			}
		}
		code, _, body := get(t, "http://"+p.admin+"/links/photo?h="+hash)
		if code != 200 {
			t.Fatalf("picker page of %s: %d", path, code)
		}
		dims := fmt.Sprintf("%d × %d px", w.Width, w.Height)
		if !strings.Contains(string(body), dims) {
			t.Errorf("picker page of %s does not show %q", path, dims)
		}
		if w.Taken != "" && !strings.Contains(string(body), "taken "+w.Taken) {
			t.Errorf("picker page of %s does not show the date %s", path, w.Taken)
		}
	}
}

// links takes selections as sign does: relative, or absolute inside the
// originals; a selection that matches nothing says so, one outside the
// originals is an error.
func TestLinksSelections(t *testing.T) {
	lib := copyPhotos(t, "cops.jpg", "dice.png")
	if err := os.MkdirAll(filepath.Join(lib, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(lib, "dice.png"), filepath.Join(lib, "sub", "dice.png")); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "thumbd.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("originals: %q\nkeys: [%q]\n", lib, key1)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		want  []string // paths; nil = none
		code  int
		empty bool // stderr says nothing matched
	}{
		{"all", nil, []string{"cops.jpg", "sub/dice.png"}, 0, false},
		{"relative folder", []string{"sub"}, []string{"sub/dice.png"}, 0, false},
		{"absolute folder", []string{filepath.Join(lib, "sub")}, []string{"sub/dice.png"}, 0, false},
		{"absolute file", []string{filepath.Join(lib, "cops.jpg")}, []string{"cops.jpg"}, 0, false},
		{"glob", []string{"*.jpg"}, []string{"cops.jpg"}, 0, false},
		{"absolute, nothing there", []string{filepath.Join(lib, "nothing")}, nil, 0, true},
		{"relative, nothing there", []string{"2031"}, nil, 0, true},
		{"outside the originals", []string{filepath.Dir(lib)}, nil, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, code := runCode(t, append([]string{"links", "--config", cfg}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, out, stderr)
			}
			if tc.code != 0 {
				if !strings.Contains(stderr, "not inside the originals") {
					t.Errorf("stderr = %q; want it to say the path is outside the originals", stderr)
				}
				return
			}
			got := manifest(t, out)
			if len(got) != len(tc.want) {
				t.Errorf("got %d photos %v, want %v", len(got), got, tc.want)
			}
			for _, p := range tc.want {
				if _, ok := got[p]; !ok {
					t.Errorf("%s missing from %v", p, got)
				}
			}
			if said := strings.Contains(stderr, "nothing in"); said != tc.empty {
				t.Errorf("stderr %q: says nothing matched = %v, want %v", stderr, said, tc.empty)
			}
		})
	}
}
