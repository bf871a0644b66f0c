// Command soak runs the real thumbd binary on loopback under a bounded,
// mixed, hostile workload above its worker limit and reports statuses,
// latency, unexpected 5xx, RSS over time and goroutines before and after.
// make soak runs it; the report goes to RELIABILITY.md.
package main

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/thumbd/thumbd/signing"
	"github.com/thumbd/thumbd/storage"
	"github.com/thumbd/thumbd/variant"
)

const key = "soak-key-0123456789abcdefghijklmnopqrstuv"

func main() {
	bin := flag.String("bin", "./thumbd", "thumbd binary")
	dur := flag.Duration("d", 3*time.Minute, "how long to run")
	conc := flag.Int("c", 32, "concurrent clients")
	out := flag.String("out", "", "write the Markdown report here too")
	phase := flag.String("phase", "all", "what to run: all (the soak, then the decode memory phase if -memory), soak, or memory")
	memory := flag.Bool("memory", true, "with -phase all, also run the decode memory phase (big whole-frame originals against max_decode_mb)")
	budgets := flag.String("memory-budgets", "1024,512", "decode memory phase: max_decode_mb values, one thumbd run per file each")
	rounds := flag.Int("memory-rounds", 1, "decode memory phase: rounds of 3 concurrent requests per file and budget (after one request alone)")
	heicMP := flag.Int("heic-mp", 24, "decode memory phase: HEIC size in megapixels (0 = none; x265 takes minutes at 67)")
	heicTimeout := flag.Duration("heic-timeout", 45*time.Second, "decode memory phase: skip the HEIC if encoding it takes longer")
	flag.Parse()
	mo := memoryOpts{bin: *bin, rounds: max(*rounds, 1), heicMP: *heicMP, heicTimeout: *heicTimeout}
	for _, f := range strings.Split(*budgets, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 16 {
			fmt.Fprintf(os.Stderr, "soak: -memory-budgets: bad value %q (MiB, at least 16)\n", f)
			os.Exit(2)
		}
		mo.budgets = append(mo.budgets, n)
	}
	var soakPart, memPart string
	var errs []error
	switch *phase {
	case "all", "soak", "memory":
	default:
		fmt.Fprintf(os.Stderr, "soak: -phase %q: want all, soak or memory\n", *phase)
		os.Exit(2)
	}
	if *phase != "memory" {
		r, err := run(*bin, *dur, *conc)
		soakPart = r
		if err != nil {
			errs = append(errs, err)
		}
	}
	if *phase == "memory" || (*phase == "all" && *memory) {
		r, err := runMemory(mo)
		memPart = r
		if err != nil {
			errs = append(errs, err)
		}
	}
	if memPart != "" {
		fmt.Print("\n" + memPart)
	}
	if *out != "" && (soakPart != "" || memPart != "") {
		if err := writeReport(*out, soakPart, memPart); err != nil {
			errs = append(errs, err)
		}
	}
	for _, err := range errs {
		fmt.Fprintln(os.Stderr, "soak:", err)
	}
	if len(errs) > 0 {
		os.Exit(1)
	}
}

const memHeading = "## Decode memory"

// writeReport replaces the parts of the report this run produced and keeps
// the others: the soak part is everything before the first "## " section,
// the decode memory part is its own section, and every other section (the
// replica figures of `make replicas`) stays as it is.
func writeReport(file, soakPart, memPart string) error {
	old, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	parts := strings.Split(string(old), "\n## ")
	head, sections := parts[0], parts[1:]
	for i := range sections {
		sections[i] = "## " + sections[i]
	}
	if strings.HasPrefix(head, "## ") { // a file that starts with a section
		sections, head = append([]string{head}, sections...), ""
	}
	if soakPart != "" {
		head = soakPart
	}
	found := false
	for i, sec := range sections {
		if strings.HasPrefix(sec, memHeading+"\n") || strings.TrimSpace(sec) == memHeading {
			found = true
			if memPart != "" {
				sections[i] = memPart
			}
		}
	}
	if !found && memPart != "" {
		sections = append([]string{memPart}, sections...)
	}
	s := strings.TrimRight(head, "\n") + "\n"
	for _, sec := range sections {
		s += "\n" + strings.TrimRight(sec, "\n") + "\n"
	}
	return os.WriteFile(file, []byte(s), 0o644)
}

// bombPNG is a valid 73-byte PNG whose header declares 50000x50000 pixels.
func bombPNG() []byte {
	chunk := func(typ string, data []byte) []byte {
		c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
		c = append(c, typ...)
		c = append(c, data...)
		return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, 50000)
	ihdr = binary.BigEndian.AppendUint32(ihdr, 50000)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write(make([]byte, 64))
	w.Close()
	b := []byte("\x89PNG\r\n\x1a\n")
	b = append(b, chunk("IHDR", ihdr)...)
	b = append(b, chunk("IDAT", z.Bytes())...)
	return append(b, chunk("IEND", nil)...)
}

func freeAddr() string {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	defer l.Close()
	return l.Addr().String()
}

type stats struct {
	mu       sync.Mutex
	lat      []float64
	statuses map[int]int
	kinds    map[string]int
	errs     int
	bad5xx   []string
}

func run(bin string, dur time.Duration, conc int) (string, error) {
	dir, err := os.MkdirTemp("", "thumbd-soak")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	orig := filepath.Join(dir, "photos")
	os.MkdirAll(orig, 0o755)
	var photos []string
	entries, _ := os.ReadDir("testdata/photos")
	for _, e := range entries {
		if storage.IsImageName(e.Name()) {
			b, err := os.ReadFile(filepath.Join("testdata/photos", e.Name()))
			if err != nil {
				return "", err
			}
			os.WriteFile(filepath.Join(orig, e.Name()), b, 0o444)
			photos = append(photos, e.Name())
		}
	}
	corrupt, _ := os.ReadFile("testdata/faults/corrupt.jpg")
	os.WriteFile(filepath.Join(orig, "corrupt.jpg"), corrupt, 0o444)
	os.WriteFile(filepath.Join(orig, "bomb.png"), bombPNG(), 0o444)
	os.WriteFile(filepath.Join(orig, "notes.jpg"), []byte("not an image at all\n"), 0o444)

	hashes := map[string]string{}
	for _, n := range append(photos, "corrupt.jpg", "bomb.png", "notes.jpg") {
		h, err := hashFile(orig, n)
		if err != nil {
			return "", err
		}
		hashes[n] = h
	}
	signer, _ := signing.New([]string{key}, false)
	sign := func(hash, size string) string { t, _ := signer.Sign(hash, size, time.Time{}); return t }

	addr, admin := freeAddr(), freeAddr()
	cmd := exec.Command(bin, "serve", "--listen", addr, "--admin-listen", admin, "--originals", orig, "--log-level", "warn")
	cmd.Env = append(os.Environ(), "THUMBD_KEYS="+key, "THUMBD_CACHE_MB=32", "THUMBD_REQUEST_TIMEOUT=10s", "THUMBD_CONFIG=")
	var serverLog bytes.Buffer
	cmd.Stderr = &serverLog
	if err := cmd.Start(); err != nil {
		return "", err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	base := "http://" + addr
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conc}}
	for i := 0; ; i++ {
		if r, err := client.Get("http://" + admin + "/readyz"); err == nil && r.StatusCode == 200 {
			r.Body.Close()
			break
		}
		if i > 200 {
			return "", fmt.Errorf("thumbd not ready:\n%s", serverLog.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	named := variant.SizeNames()
	type req struct{ kind, url string }
	pick := func(r *rand.Rand) req {
		p := photos[r.IntN(len(photos))]
		h := hashes[p]
		switch x := r.IntN(100); {
		case x < 40: // hits: a small fixed set, cached after first use
			p = photos[r.IntN(4)]
			h = hashes[p]
			sz := []string{"tile_224", "tile_500", "fit_720", "colors"}[r.IntN(4)]
			return req{"hit", base + "/t/" + h + "/" + sign(h, sz) + "/" + sz}
		case x < 62: // misses: custom sizes keep the cache busy
			var sz string
			if r.IntN(2) == 0 {
				sz = "tile_" + strconv.Itoa(40+r.IntN(600))
			} else {
				sz = fmt.Sprintf("fit_%dx%d", 100+r.IntN(1200), 100+r.IntN(1200))
			}
			return req{"miss", base + "/t/" + h + "/" + sign(h, sz) + "/" + sz}
		case x < 67: // every named size, large ones included
			sz := named[r.IntN(len(named))]
			return req{"named", base + "/t/" + h + "/" + sign(h, sz) + "/" + sz}
		case x < 75: // tampered tokens
			tok := []byte(sign(h, "tile_500"))
			tok[r.IntN(len(tok))] ^= 0x01
			return req{"bad-token", base + "/t/" + h + "/" + string(tok) + "/tile_500"}
		case x < 80:
			return req{"malformed", base + "/t/" + strings.ToUpper(h) + "/x/tile_500"}
		case x < 85:
			b := hashes["bomb.png"]
			return req{"bomb", base + "/t/" + b + "/" + sign(b, "tile_500") + "/tile_500"}
		case x < 90:
			c := hashes[[]string{"corrupt.jpg", "notes.jpg"}[r.IntN(2)]]
			return req{"undecodable", base + "/t/" + c + "/" + sign(c, "fit_720") + "/fit_720"}
		case x < 94:
			u := fmt.Sprintf("%040x", r.Uint64())
			return req{"unknown", base + "/t/" + u + "/" + sign(u, "tile_224") + "/tile_224"}
		default: // cancelled mid-flight
			sz := "tile_" + strconv.Itoa(700+r.IntN(300))
			return req{"cancelled", base + "/t/" + h + "/" + sign(h, sz) + "/" + sz}
		}
	}

	rss := func() int64 {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "VmRSS:" {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n / 1024
			}
		}
		return 0
	}
	goroutines := func() int {
		r, err := client.Get("http://" + admin + "/metrics")
		if err != nil {
			return -1
		}
		defer r.Body.Close()
		sc := bufio.NewScanner(r.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "go_goroutines ") {
				n, _ := strconv.Atoi(strings.Fields(sc.Text())[1])
				return n
			}
		}
		return -1
	}

	g0, rss0 := goroutines(), rss()
	st := &stats{statuses: map[int]int{}, kinds: map[string]int{}}
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var (
		samples   []string
		samplesMu sync.Mutex
		done      atomic.Bool
	)
	go func() {
		t := time.NewTicker(dur / 10)
		defer t.Stop()
		start := time.Now()
		for !done.Load() {
			select {
			case <-t.C:
				line := fmt.Sprintf("%4.0fs: %d MiB", time.Since(start).Seconds(), rss())
				samplesMu.Lock()
				samples = append(samples, line)
				samplesMu.Unlock()
			case <-ctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 7))
			for ctx.Err() == nil {
				q := pick(r)
				rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
				if q.kind == "cancelled" {
					rctx, rcancel = context.WithTimeout(ctx, time.Duration(1+r.IntN(20))*time.Millisecond)
				}
				hreq, _ := http.NewRequestWithContext(rctx, http.MethodGet, q.url, nil)
				t0 := time.Now()
				resp, err := client.Do(hreq)
				code := 0
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				ms := float64(time.Since(t0).Microseconds()) / 1000
				rcancel()
				st.mu.Lock()
				st.kinds[q.kind]++
				if err != nil {
					if q.kind != "cancelled" && ctx.Err() == nil {
						st.errs++
					}
				} else {
					st.statuses[code]++
					st.lat = append(st.lat, ms)
					if code >= 500 && code != 503 {
						st.bad5xx = append(st.bad5xx, fmt.Sprintf("%d %s", code, q.kind))
					}
				}
				st.mu.Unlock()
			}
		}(uint64(w))
	}
	wg.Wait()
	done.Store(true)
	elapsed := time.Since(start)
	rssEnd := rss()
	// Jobs of cancelled requests finish on their own (bounded by the
	// request timeout); wait for the server to go idle, then count.
	client.CloseIdleConnections()
	g1 := -1
	for i := 0; i < 60; i++ {
		time.Sleep(500 * time.Millisecond)
		if g1 = goroutines(); g1 <= g0+2 {
			break
		}
	}

	sort.Float64s(st.lat)
	pct := func(p float64) float64 {
		if len(st.lat) == 0 {
			return 0
		}
		return st.lat[int(p*float64(len(st.lat)-1))]
	}
	total := 0
	codes := []int{}
	for c, n := range st.statuses {
		codes = append(codes, c)
		total += n
	}
	sort.Ints(codes)
	var b strings.Builder
	fmt.Fprintf(&b, "# Reliability\n\nLatest `make soak` (%s, %d CPUs): the real thumbd binary on loopback, %d clients\n", time.Now().UTC().Format("2006-01-02"), numCPU(), conc)
	fmt.Fprintf(&b, "(above its worker limit of two per CPU) for %s, result cache 32 MiB. Mix: 40%% cache hits, 22%%\n", elapsed.Round(time.Second))
	fmt.Fprintf(&b, "misses on random custom sizes, 5%% any named size up to fit_7680, 8%% tampered tokens, 5%% malformed\n")
	fmt.Fprintf(&b, "URLs, 5%% a 50000x50000 PNG bomb, 5%% undecodable files, 4%% unknown hashes, 6%% requests cancelled\n")
	fmt.Fprintf(&b, "by the client after 1-20 ms.\n\n")
	fmt.Fprintf(&b, "| requests answered | req/s | p50 ms | p99 ms | transport errors (not cancelled) | **unexpected 5xx** |\n|---|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| %d | %.1f | %.1f | %.1f | %d | **%d** |\n\n", total, float64(total)/elapsed.Seconds(), pct(0.5), pct(0.99), st.errs, len(st.bad5xx))
	fmt.Fprintf(&b, "Statuses:")
	for _, c := range codes {
		fmt.Fprintf(&b, " %d: %d;", c, st.statuses[c])
	}
	samplesMu.Lock()
	fmt.Fprintf(&b, "\n\nRSS: start %d MiB, during the run:\n\n```\n%s\n```\n\nend %d MiB. Goroutines: %d before, %d after (idle).\n", rss0, strings.Join(samples, "\n"), rssEnd, g0, g1)
	samplesMu.Unlock()
	if len(st.bad5xx) > 0 {
		fmt.Fprintf(&b, "\nUnexpected 5xx: %v\n", st.bad5xx[:min(10, len(st.bad5xx))])
	}
	fmt.Print(b.String())
	if len(st.bad5xx) > 0 {
		return b.String(), fmt.Errorf("%d unexpected 5xx", len(st.bad5xx))
	}
	if g1 > g0+5 {
		return b.String(), fmt.Errorf("goroutines grew from %d to %d", g0, g1)
	}
	return b.String(), nil
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}

// hashFile is the SHA-1 of dir/name, the hash thumbd indexes it under.
func hashFile(dir, name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return "", err
	}
	sum := sha1.Sum(b)
	return hex.EncodeToString(sum[:]), nil
}
