package video

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// mkbox builds an ISO BMFF box from its parts.
func mkbox(typ string, parts ...[]byte) []byte {
	body := bytes.Join(parts, nil)
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(body)))
	return append(append(b, typ...), body...)
}

// needTool skips (or fails under CI, where the tools are installed) when a
// program the test runs is missing.
func needTool(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not installed (CI is set)", n)
			}
			t.Skipf("%s not installed", n)
		}
	}
}

// genVideo writes a one-second test pattern video with ffmpeg: size as
// WxH, then encoder and muxer options.
func genVideo(t *testing.T, path, size string, opts ...string) string {
	t.Helper()
	return genVideoFor(t, path, size, 1, opts...)
}

func genVideoFor(t *testing.T, path, size string, seconds int, opts ...string) string {
	t.Helper()
	args := append([]string{"-v", "error", "-nostdin", "-y", "-f", "lavfi",
		"-i", fmt.Sprintf("testsrc=size=%s:rate=10:duration=%d", size, seconds)}, opts...)
	args = append(args, path)
	if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, b)
	}
	return path
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// topBoxes lists the top-level box types of an MP4 file in order.
func topBoxes(t *testing.T, b []byte) []string {
	t.Helper()
	var types []string
	r := bytes.NewReader(b)
	for off := int64(0); off < int64(len(b)); {
		typ, _, next, err := box(r, off, int64(len(b)))
		if err != nil {
			t.Fatalf("top-level boxes: %v", err)
		}
		types = append(types, typ)
		off = next
	}
	return types
}
