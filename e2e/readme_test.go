package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README's "Try it" block runs as written against `thumbd serve --dev`
// (the only change: the server's random port instead of 8080), so the docs
// cannot drift from the product. It mints a link, curls it, and checks the
// type with file(1) and libvips.
func TestReadmeTryItBlock(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- try-it -->\n```sh\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README has no <!-- try-it --> block")
	}
	block := string(m[1])
	for _, tool := range []string{"curl", "file", "vipsheader", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (make test installs it)", tool)
		}
	}

	// The repository root as `make run` sees it: ./thumbd and testdata/.
	work := t.TempDir()
	os.Symlink(bin, filepath.Join(work, "thumbd"))
	abs, _ := filepath.Abs("../testdata")
	os.Symlink(abs, filepath.Join(work, "testdata"))
	p := start(t, "--dev", "--originals", filepath.Join(work, "testdata", "photos"))
	script := "set -euo pipefail\n" + strings.ReplaceAll(block, "127.0.0.1:8080", p.addr)

	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "THUMBD_KEYS=", "THUMBD_CONFIG=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("README block failed: %v\n%s\nscript:\n%s", err, out, script)
	}
	// Every "# expected" comment's key facts appear in the real output.
	for _, want := range []string{"JPEG image data", "progressive", "1280x960", "1280x960 uchar, 3 bands, srgb, jpegload"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
