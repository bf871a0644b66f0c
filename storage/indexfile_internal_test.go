package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Index files are decoded in parts; every line is kept, in order, and a
// bad line is reported by its number in the file.
func TestIndexFileManyLines(t *testing.T) {
	dir := t.TempDir()
	idx := filepath.Join(t.TempDir(), "index.jsonl")
	var b strings.Builder
	b.WriteString(`{"thumbd_index":2,"dev":1,"ph":true}` + "\n")
	const n = 5000
	for i := range n {
		fmt.Fprintf(&b, `{"p":"d/%05d.jpg","h":"%040x","s":%d,"m":1,"w":10,"hh":10,"i":%d,"c":1}`+"\n", i, i, i, i+1)
	}
	os.WriteFile(idx, []byte(b.String()), 0o644)
	ix, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if got, err := ix.LoadIndexFile(idx); err != nil || got != n {
		t.Fatalf("loaded %d, %v; want %d", got, err, n)
	}
	ix.mu.RLock()
	o := ix.known["d/04321.jpg"]
	ix.mu.RUnlock()
	if o.Size != 4321 || o.Hash != fmt.Sprintf("%040x", 4321) || o.ID.Ino != 4322 {
		t.Fatalf("entry 4321 read as %+v", o)
	}
	lines := strings.Split(b.String(), "\n")
	lines[4001] = "{not json"
	os.WriteFile(idx, []byte(strings.Join(lines, "\n")), 0o644)
	if _, err := ix.LoadIndexFile(idx); err == nil || !strings.Contains(err.Error(), "bad line 4002") {
		t.Fatalf("bad line reported as %v; want line 4002", err)
	}
}
