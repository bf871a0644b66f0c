package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sign --format json and links carry the placeholder of each photo; links
// --format html prints one <picture> per photo.
func TestPlaceholdersInSignAndLinks(t *testing.T) {
	cleanEnv(t)
	r := run(t, "sign", "--dev", "--originals", photos, "--format", "json", "--size", "fit_720", "Landscape_1.jpg")
	var got []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 {
		t.Fatalf("sign --format json: %v, exit %d\n%s%s", err, r.code, r.stdout, r.stderr)
	}
	for _, k := range []string{"thumbhash", "blurhash", "color", "width", "height"} {
		if v, ok := got[0][k]; !ok || v == "" || v == 0.0 {
			t.Errorf("sign json lacks %s: %v", k, got[0])
		}
	}
	r = run(t, "links", "--dev", "--originals", photos, "--format", "html", "--size", "fit_720", "--size", "fit_1280", "orientation")
	if r.code != 0 || strings.Count(r.stdout, "<picture>") != 9 || strings.Count(r.stdout, `type="image/avif"`) != 9 || strings.Count(r.stdout, "style=\"background:#") != 9 {
		t.Errorf("links --format html over 9 photos: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, "links", "--dev", "--originals", photos, "--format", "html", "--size", "original", "cops.jpg"); r.code == 0 {
		t.Errorf("links --format html --size original: exit 0")
	}
}

// export refuses what it cannot do, before rendering anything.
func TestExportRefuses(t *testing.T) {
	cleanEnv(t)
	out := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--originals", photos}, "--out"},
		{[]string{"--originals", photos, "--out", filepath.Join(photos, "x")}, "inside the originals"},
		{[]string{"--originals", photos, "--out", out, "--manifest", filepath.Join(photos, "m.json")}, "inside the originals"},
		{[]string{"--originals", photos, "--out", out, "--size", "avc"}, "videos"},
		{[]string{"--originals", photos, "--out", out, "--size", "fit_9000x9000"}, "custom_max"},
		{[]string{"--originals", photos, "--out", out, "--size", "tile_300_q0"}, "unknown size"},
		{[]string{"--originals", photos, "--out", out, "--format", "xml"}, "json or csv"},
	} {
		r := run(t, append([]string{"export"}, c.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("export %v: exit %d, stderr %q; want %q", c.args, r.code, r.stderr, c.want)
		}
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("refused exports wrote %d entries", len(entries))
	}
	if _, err := os.Stat(filepath.Join(photos, "x")); err == nil {
		t.Errorf("export wrote into the originals")
	}
}
