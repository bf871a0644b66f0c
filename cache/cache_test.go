package cache

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var quiet = slog.New(slog.DiscardHandler)

func TestMemoryLRUStaysInBudget(t *testing.T) {
	m := NewMemory(64 << 10)
	body := bytes.Repeat([]byte{1}, 4<<10)
	for i := 0; i < 100; i++ {
		m.put(fmt.Sprint("k", i), Entry{Body: body})
		if st := m.Stats(); st.Bytes > 64<<10 {
			t.Fatalf("after %d puts: %d bytes > budget", i+1, st.Bytes)
		}
	}
	if _, ok := m.get("k0"); ok {
		t.Error("oldest entry survived eviction")
	}
	if _, ok := m.get("k99"); !ok {
		t.Error("newest entry evicted")
	}
	st := m.Stats()
	if st.Evictions == 0 || st.Hits != 1 || st.Misses != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestMemoryRecencyProtectsHotEntries(t *testing.T) {
	m := NewMemory(40 << 10)
	body := bytes.Repeat([]byte{1}, 4<<10)
	m.put("hot", Entry{Body: body})
	for i := 0; i < 50; i++ {
		m.put(fmt.Sprint("k", i), Entry{Body: body})
		if _, ok := m.get("hot"); !ok {
			t.Fatalf("hot entry evicted after %d puts", i)
		}
	}
}

func TestMemoryRefusesGiantsAndDisabled(t *testing.T) {
	m := NewMemory(80 << 10)
	m.put("big", Entry{Body: make([]byte, 20<<10)}) // > budget/8
	if _, ok := m.get("big"); ok {
		t.Error("entry over budget/8 kept")
	}
	off := NewMemory(0)
	off.put("x", Entry{Body: []byte("x")})
	if _, ok := off.get("x"); ok {
		t.Error("disabled cache stored an entry")
	}
}

func TestMemoryDeletePrefix(t *testing.T) {
	m := NewMemory(1 << 20)
	m.put("aaa_tile_500.jpg", Entry{Body: []byte("1")})
	m.put("aaa_fit_720.jpg", Entry{Body: []byte("2")})
	m.put("bbb_tile_500.jpg", Entry{Body: []byte("3")})
	m.deletePrefix("aaa_")
	if _, ok := m.peek("aaa_fit_720.jpg"); ok {
		t.Error("prefix not deleted")
	}
	if _, ok := m.peek("bbb_tile_500.jpg"); !ok {
		t.Error("other photo deleted")
	}
}

func realJPEG(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/photos/cops.jpg")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestComplete(t *testing.T) {
	jpg := realJPEG(t)
	png, err := os.ReadFile("../testdata/photos/dice.png")
	if err != nil {
		t.Fatal(err)
	}
	avif, err := os.ReadFile("../testdata/photos/test.avif")
	if err != nil {
		t.Fatal(err)
	}
	webp := append([]byte("RIFF\x0c\x00\x00\x00WEBPVP8 "), 0, 0, 0, 0)
	for _, tc := range []struct {
		ext  string
		b    []byte
		want bool
	}{
		{".jpg", jpg, true},
		{".jpg", jpg[:len(jpg)-100], false},
		{".jpg", []byte("<html>"), false},
		{".png", png, true},
		{".png", png[:len(png)-1], false},
		{".avif", avif, true},
		{".avif", avif[:len(avif)/2], false},
		{".webp", webp, true},
		{".webp", webp[:len(webp)-1], false},
		{".gif", jpg, false},
	} {
		if got := Complete(tc.ext, tc.b); got != tc.want {
			t.Errorf("Complete(%s, %d bytes) = %v, want %v", tc.ext, len(tc.b), got, tc.want)
		}
	}
}

func TestDiskRoundTripLayoutAndAtomicity(t *testing.T) {
	dir := t.TempDir()
	d := OpenDisk(dir, 10<<20, "", quiet)
	key := "2cad9168fa6005bfd1b1b4d7b0ff8bb0d3ffa6b6_tile_500.jpg"
	jpg := realJPEG(t)
	d.put(key, jpg)
	want := filepath.Join(dir, "2c", "ad", key)
	if b, err := os.ReadFile(want); err != nil || !bytes.Equal(b, jpg) {
		t.Fatalf("file at %s: err %v", want, err)
	}
	got, ok := d.get(key)
	if !ok || !bytes.Equal(got, jpg) {
		t.Fatal("Get after Put missed")
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, "2c", "ad", ".tmp-*"))
	if len(leftovers) != 0 {
		t.Errorf("temp files left: %v", leftovers)
	}
}

func TestDiskDetectsTruncatedEntry(t *testing.T) {
	dir := t.TempDir()
	d := OpenDisk(dir, 10<<20, "", quiet)
	key := "aabbccdd00000000000000000000000000000000_tile_500.jpg"
	jpg := realJPEG(t)
	p := filepath.Join(dir, "aa", "bb", key)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, jpg[:len(jpg)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := d.get(key); ok {
		t.Fatal("truncated entry served")
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Error("truncated entry not removed")
	}
	if d.Stats().Corrupt != 1 {
		t.Errorf("corrupt counter = %d", d.Stats().Corrupt)
	}
}

// A temp file old enough to be a crash leftover is removed at start; a
// fresh one may be another replica's write in progress and stays.
func TestDiskCrashLeftoversRemovedAtStart(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "aa", "bb"), 0o755)
	stale := filepath.Join(dir, "aa", "bb", ".tmp-123")
	os.WriteFile(stale, []byte("half"), 0o644)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(stale, old, old)
	fresh := filepath.Join(dir, "aa", "bb", ".tmp-456")
	os.WriteFile(fresh, []byte("being written"), 0o644)
	d := OpenDisk(dir, 1<<20, "", quiet)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("crash leftover kept")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("another writer's temp file removed: %v", err)
	}
	if d.Stats().Bytes != 0 {
		t.Errorf("temp files counted as entries: %d bytes", d.Stats().Bytes)
	}
}

func TestDiskEvictsToBudget(t *testing.T) {
	dir := t.TempDir()
	d := OpenDisk(dir, 400<<10, "", quiet)
	jpg := realJPEG(t) // 42 KB
	for i := 0; i < 30; i++ {
		d.put(fmt.Sprintf("%040d_tile_%d.jpg", i, i), jpg)
	}
	d.evicting.Lock() // wait for a background eviction to finish
	d.evict()
	d.evicting.Unlock()
	var total int64
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			total += fi.Size()
		}
		return nil
	})
	if total > 400<<10 {
		t.Errorf("disk cache holds %d bytes, budget %d", total, 400<<10)
	}
	if d.Stats().Evictions == 0 {
		t.Error("no evictions counted")
	}
}

func TestDiskReadOnlyOrMissingDegrades(t *testing.T) {
	// Root ignores permission bits, so use a path under a regular file,
	// which fails for everyone.
	file := filepath.Join(t.TempDir(), "not-a-dir")
	os.WriteFile(file, []byte("x"), 0o644)
	d := OpenDisk(filepath.Join(file, "cache"), 1<<20, "", quiet)
	if !d.Degraded() {
		t.Fatal("cache under a file should start degraded")
	}
	d.put("aabb_tile_500.jpg", realJPEG(t)) // must not panic or error
	if _, ok := d.get("aabb_tile_500.jpg"); ok {
		t.Error("degraded cache served an entry")
	}

	// A folder that vanishes at run time degrades on the next write.
	dir := filepath.Join(t.TempDir(), "c")
	d2 := OpenDisk(dir, 1<<20, "", quiet)
	os.RemoveAll(dir)
	os.WriteFile(dir, []byte("now a file"), 0o644)
	d2.put("aabbccdd_tile_500.jpg", realJPEG(t))
	if !d2.Degraded() || d2.Stats().WriteErrors != 1 {
		t.Errorf("stats after failed write: %+v", d2.Stats())
	}
}

func TestPhotoPrismTierStripsMetadata(t *testing.T) {
	dir := t.TempDir()
	hash := "594bd32db3e775b54151f9b25c9fd90e3511034f"
	src, err := os.ReadFile("../testdata/photos/test_exif_full.jpg") // has EXIF + GPS
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "5", "9", "4", hash+"_500x500_center.jpg")
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, src, 0o444)
	pp, err := OpenPhotoPrism(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer pp.Close()
	b, ok := pp.get(hash, 500, 500, "center", "jpg")
	if !ok {
		t.Fatal("PhotoPrism thumbnail not found")
	}
	// The ICC profile (kept) names Apple as its author; EXIF and its
	// camera serial and GPS block must be gone.
	for _, s := range []string{"Exif\x00\x00", "iPhone XS", "http://ns.adobe.com/xap"} {
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("%q left in PhotoPrism thumbnail", s)
		}
	}
	if _, ok := pp.get(hash, 224, 224, "left", "jpg"); ok {
		t.Error("found a thumbnail that does not exist")
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o444 {
		t.Error("PhotoPrism file changed")
	}
}

// A small entry cut from a large buffer must not pin the buffer: the
// budget counts memory held, and Put keeps a copy of its own.
func TestMemoryCountsHeldNotLength(t *testing.T) {
	m := NewMemory(1 << 20)
	big := make([]byte, 64<<20)
	m.put("k", Entry{Body: big[:1000]})
	e, ok := m.get("k")
	if !ok {
		t.Fatal("entry not kept")
	}
	if cap(e.Body) != len(e.Body) {
		t.Fatalf("stored body has cap %d for len %d: it pins its source buffer", cap(e.Body), len(e.Body))
	}
	if st := m.Stats(); st.Bytes > 1000+overhead {
		t.Fatalf("budget counts %d bytes for a 1000-byte entry", st.Bytes)
	}
	// A tight slice is kept as it is (no copy on the hot path).
	tight := make([]byte, 500)
	m.put("t", Entry{Body: tight})
	if e, _ := m.get("t"); &e.Body[0] != &tight[0] {
		t.Fatal("tight body was copied")
	}
}

// folderBytes adds up a cache folder's entries under its lock, as a
// snapshot no writer changes halfway.
func folderBytes(t *testing.T, dir string) int64 {
	t.Helper()
	probe := &Disk{dir: dir, log: quiet}
	_, unlock, err := probe.lock()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { unlock(); probe.usage.Close() }()
	var total int64
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && !strings.HasPrefix(fi.Name(), ".") {
			total += fi.Size()
		}
		return nil
	})
	return total
}

// Three Disks on one folder, as three replicas (flock is per open file,
// so they lock each other out as processes do), write at once: the
// folder never holds more than the one budget, nothing half-written is
// ever read, and no write fails.
func TestDiskSharedFolderKeepsOneBudget(t *testing.T) {
	dir := t.TempDir()
	const budget = 400 << 10
	jpg := realJPEG(t) // 42 KB
	var disks []*Disk
	for i := 0; i < 3; i++ {
		disks = append(disks, OpenDisk(dir, budget, "", quiet))
	}
	stop := make(chan struct{})
	var peak int64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			default:
			}
			peak = max(peak, folderBytes(t, dir))
			time.Sleep(time.Millisecond)
		}
	}()
	var wg sync.WaitGroup
	for i, d := range disks {
		for g := 0; g < 2; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 0; k < 60; k++ {
					// Keys overlap across replicas, as one photo's variant
					// rendered by two of them.
					key := fmt.Sprintf("%040d_tile_500.jpg", (k*7+i+g)%40)
					d.put(key, jpg)
					if b, ok := d.get(key); ok && !bytes.Equal(b, jpg) {
						t.Errorf("read back %d bytes, not the %d written", len(b), len(jpg))
					}
				}
			}()
		}
	}
	wg.Wait()
	var stats []Stats
	for _, d := range disks {
		d.evicting.Lock() // once a background eviction is done
		stats = append(stats, d.Stats())
		d.evicting.Unlock()
	}
	close(stop)
	<-sampled
	peak = max(peak, folderBytes(t, dir))
	if peak > budget {
		t.Errorf("shared folder reached %d bytes, budget %d", peak, budget)
	}
	var writes, evictions uint64
	for _, st := range stats {
		if st.WriteErrors != 0 || st.Corrupt != 0 {
			t.Errorf("stats: %+v", st)
		}
		writes += st.Writes
		evictions += st.Evictions
	}
	if writes < 20 || evictions == 0 {
		t.Errorf("%d writes, %d evictions: the budget was not exercised", writes, evictions)
	}
	// The count every replica reads is the folder's size.
	if got, want := disks[0].lockedBytes(t), folderBytes(t, dir); got != want {
		t.Errorf("usage file says %d bytes, folder holds %d", got, want)
	}
	t.Logf("peak %d of %d bytes; %d writes, %d evictions", peak, budget, writes, evictions)
}

func (d *Disk) lockedBytes(t *testing.T) int64 {
	u, unlock, err := d.lock()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	return u.bytes
}
