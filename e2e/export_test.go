package e2e

import (
	"crypto/sha1"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/davidbyttow/govips/v2/vips"
)

// execThumbd is the binary with a clean environment plus env.
func execThumbd(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), "THUMBD_KEYS=", "THUMBD_CONFIG="), env...)
	return cmd
}

type exportLink struct {
	Size   string `json:"size"`
	URL    string `json:"url"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
}

type exportEntry struct {
	Path      string       `json:"path"`
	Hash      string       `json:"hash"`
	Width     int          `json:"width"`
	Height    int          `json:"height"`
	ThumbHash string       `json:"thumbhash"`
	BlurHash  string       `json:"blurhash"`
	Color     string       `json:"color"`
	Links     []exportLink `json:"links"`
}

type exportRun struct {
	rendered, unchanged, pruned, failed int
	manifest                            []exportEntry
	raw                                 string
}

var exportSummary = regexp.MustCompile(`export: (\d+) photos, (\d+) files: (\d+) rendered, (\d+) unchanged, (\d+) pruned, (\d+) failed`)

// export runs `thumbd export` and reads its summary line and manifest.
func export(t *testing.T, env []string, args ...string) exportRun {
	t.Helper()
	cmd := execThumbd(env, append([]string{"export"}, args...)...)
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("thumbd export %v: %v\n%s", args, err, errb.String())
	}
	m := exportSummary.FindStringSubmatch(errb.String())
	if m == nil {
		t.Fatalf("no summary line in:\n%s", errb.String())
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	r := exportRun{rendered: n(3), unchanged: n(4), pruned: n(5), failed: n(6), raw: out.String()}
	if err := json.Unmarshal([]byte(out.String()), &r.manifest); err != nil {
		t.Fatalf("manifest: %v\n%s", err, out.String())
	}
	return r
}

type fileState struct {
	ino   uint64
	mtime time.Time
	size  int64
	sum   string
	dir   bool
}

// tree lists every entry under dir with what says whether it was
// rewritten (inode, mtime) or changed (bytes).
func tree(t *testing.T, dir string) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fileState{ino: fi.Sys().(*syscall.Stat_t).Ino, mtime: fi.ModTime(), size: fi.Size()}
		if d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			s := sha1.Sum(b)
			st.sum = hex.EncodeToString(s[:])
		} else {
			st.sum, st.dir = fi.Mode().String(), d.IsDir()
		}
		out[filepath.ToSlash(rel)] = st
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Export renders into a folder, a second run renders and rewrites
// nothing, a changed setting re-renders only the files it affects, --prune
// removes what is no longer selected (and nothing it did not make), and
// the originals (read-only, as a mount would be) are untouched.
func TestExportIncrementalPruneAtomic(t *testing.T) {
	orig := copyPhotos(t, "Landscape_1.jpg", "cops.jpg", "dice.png", "test_exif_full.jpg")
	os.MkdirAll(filepath.Join(orig, "2020"), 0o755)
	os.Rename(filepath.Join(orig, "cops.jpg"), filepath.Join(orig, "2020", "cops.jpg"))
	for _, d := range []string{filepath.Join(orig, "2020"), orig} {
		os.Chmod(d, 0o555)
	}
	t.Cleanup(func() { os.Chmod(orig, 0o755); os.Chmod(filepath.Join(orig, "2020"), 0o755) })
	before := tree(t, orig)

	state := t.TempDir()
	out := filepath.Join(state, "site", "photos")
	cfg := filepath.Join(state, "thumbd.yaml")
	conf := fmt.Sprintf("originals: %q\nindex_file: %q\n", orig, filepath.Join(state, "index.jsonl"))
	os.WriteFile(cfg, []byte(conf), 0o600)
	sizes := []string{"--size", "tile_224", "--size", "fit_720", "--size", "fit_720.webp", "--size", "fit_1280x1280_q50.webp"}
	args := append([]string{"--config", cfg, "--out", out, "--base-url", "/photos/"}, sizes...)

	first := export(t, nil, args...)
	if first.rendered != 16 || first.unchanged != 0 || first.failed != 0 || len(first.manifest) != 4 {
		t.Fatalf("first export: %+v", first)
	}
	// Every URL is a file in the folder, of the size the manifest says;
	// every photo has its placeholder.
	for _, e := range first.manifest {
		if e.ThumbHash == "" || e.BlurHash == "" || !regexp.MustCompile(`^#[0-9a-f]{6}$`).MatchString(e.Color) || e.Width == 0 {
			t.Errorf("%s: placeholder or size missing: %+v", e.Path, e)
		}
		for _, l := range e.Links {
			rel, ok := strings.CutPrefix(l.URL, "/photos/")
			if !ok || !strings.Contains(rel, e.Hash+"_") {
				t.Errorf("%s: URL %s is not under /photos/ named by the hash", e.Path, l.URL)
				continue
			}
			img, err := vips.NewImageFromFile(filepath.Join(out, rel))
			if err != nil {
				t.Errorf("%s: %v", l.URL, err)
				continue
			}
			if img.Width() != l.Width || img.Height() != l.Height {
				t.Errorf("%s: %dx%d, manifest says %dx%d", l.URL, img.Width(), img.Height(), l.Width, l.Height)
			}
			wantExt := ".jpg"
			if strings.HasSuffix(l.Size, ".webp") {
				wantExt = ".webp"
			}
			if filepath.Ext(rel) != wantExt {
				t.Errorf("%s for %s", l.URL, l.Size)
			}
			img.Close()
		}
	}
	files := tree(t, out)

	// Nothing changed: nothing rendered, no file rewritten, same manifest.
	second := export(t, nil, args...)
	if second.rendered != 0 || second.unchanged != 16 || second.raw != first.raw {
		t.Fatalf("second export: rendered %d, unchanged %d; manifest same: %v", second.rendered, second.unchanged, second.raw == first.raw)
	}
	if now := tree(t, out); fmt.Sprint(now) != fmt.Sprint(files) {
		t.Fatalf("second export rewrote files:\nbefore %v\nafter  %v", files, now)
	}

	// A WebP quality change re-renders the WebP files only (the _q50 one
	// names its own quality and stays); a crop change the tiles only.
	third := export(t, []string{"THUMBD_WEBP_QUALITY=65"}, args...)
	if third.rendered != 4 || third.unchanged != 12 {
		t.Fatalf("webp_quality changed: rendered %d, unchanged %d; want 4 (fit_720.webp), 12", third.rendered, third.unchanged)
	}
	fourth := export(t, []string{"THUMBD_WEBP_QUALITY=65", "THUMBD_CROP=attention"}, args...)
	if fourth.rendered != 4 || fourth.unchanged != 12 {
		t.Fatalf("crop changed: rendered %d, unchanged %d; want 4 (tile_224), 12", fourth.rendered, fourth.unchanged)
	}
	now := tree(t, out)
	for rel, st := range files {
		if strings.Contains(rel, "_fit_720_") && strings.HasSuffix(rel, ".jpg") || strings.Contains(rel, "_q50") {
			if now[rel] != st {
				t.Errorf("%s was rewritten though no setting of it changed", rel)
			}
		}
	}

	// --prune: a selection of one folder keeps its files and removes the
	// rest, including the old settings' files; a crash's temp file goes
	// too; a file the export did not make stays.
	os.WriteFile(filepath.Join(out, "README.txt"), []byte("mine"), 0o644)
	os.MkdirAll(filepath.Join(out, "ab"), 0o755)
	os.WriteFile(filepath.Join(out, "ab", ".tmp-export-123"), []byte("half"), 0o644)
	pruned := export(t, []string{"THUMBD_WEBP_QUALITY=65", "THUMBD_CROP=attention"}, append(args, "--prune", "2020")...)
	if pruned.rendered != 0 || pruned.unchanged != 4 || len(pruned.manifest) != 1 || pruned.manifest[0].Path != "2020/cops.jpg" {
		t.Fatalf("pruned export: %+v", pruned)
	}
	if pruned.pruned != 16+4+4-4 { // every file made so far, less the four kept
		t.Errorf("pruned %d files, want 20", pruned.pruned)
	}
	left := tree(t, out)
	var kept []string
	for rel, st := range left {
		if !st.dir {
			kept = append(kept, rel)
		}
	}
	for _, l := range pruned.manifest[0].Links {
		if _, ok := left[strings.TrimPrefix(l.URL, "/photos/")]; !ok {
			t.Errorf("prune removed a selected file %s", l.URL)
		}
	}
	if _, ok := left["README.txt"]; !ok {
		t.Errorf("prune removed a file it did not make")
	}
	if _, ok := left["ab/.tmp-export-123"]; ok {
		t.Errorf("prune left a temp file")
	}
	if len(kept) != 5 {
		t.Errorf("after prune: %v; want the 4 files of 2020/cops.jpg and README.txt", kept)
	}

	// CSV manifest, same files.
	cmd := execThumbd(nil, append(append([]string{"export"}, args...), "--format", "csv", "2020")...)
	b, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil || len(rows) != 2 || rows[0][5] != "url_tile_224" || !strings.HasPrefix(rows[1][5], "/photos/") {
		t.Errorf("csv manifest: %v %v", rows, err)
	}

	// Never into the originals.
	if _, stderr, code := runCode(t, "export", "--config", cfg, "--out", filepath.Join(orig, "thumbs")); code == 0 || !strings.Contains(stderr, "inside the originals") {
		t.Errorf("export into the originals: exit %d, %s", code, stderr)
	}
	if after := tree(t, orig); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("originals changed:\nbefore %v\nafter  %v", before, after)
	}
}
