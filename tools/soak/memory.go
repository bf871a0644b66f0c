package main

// The decode memory phase: big originals whose decoders must hold the whole
// frame (an Adam7 PNG, a progressive JPEG, a HEIC), three at once, against
// thumbd's process-wide decode budget (max_decode_mb), with the process's
// RSS sampled every 50 ms. Everything is generated at run time.

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/thumbd/thumbd/imagehdr"
	"github.com/thumbd/thumbd/signing"
	"github.com/thumbd/thumbd/transform"
	"github.com/thumbd/thumbd/variant"
)

type memoryOpts struct {
	bin         string
	budgets     []int // max_decode_mb values, one thumbd run each
	rounds      int   // rounds of 3 concurrent requests per file
	heicMP      int   // HEIC size in megapixels (0 = none)
	heicTimeout time.Duration
}

// memFile is one generated original.
type memFile struct {
	name, desc string
	genTime    time.Duration
	size       int64
	hash       string
	hdr        imagehdr.Header
}

// memResult is one file under one budget.
type memResult struct {
	file       *memFile
	budgetMB   int
	estimate   int64 // bytes per job, transform.DecodeEstimate
	statuses   map[int]int
	rounds     [][]float64 // per round, the latencies (s) sorted
	rssBase    int64       // MiB, idle after start
	rssMax     int64       // MiB, highest VmRSS sample
	hwm        int64       // MiB, VmHWM at the end
	solo       float64     // s, one request alone (0: not run)
	hwmSolo    int64       // MiB, VmHWM after it
	errs       []string
	unexpected []string
}

// pngAdam7 streams a valid W x H, 16-bit RGBA, Adam7-interlaced PNG to w:
// every pixel transparent black and every filter byte None, so the zlib
// stream of scanlines is about 1/1000 of the raw size (deflate's limit).
// Only one scanline is ever in memory.
func pngAdam7(w io.Writer, width, height int) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	bw.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		var hd [8]byte
		binary.BigEndian.PutUint32(hd[:], uint32(len(data)))
		copy(hd[4:], typ)
		bw.Write(hd[:])
		bw.Write(data)
		c := crc32.NewIEEE()
		c.Write(hd[4:])
		c.Write(data)
		var crc [4]byte
		binary.BigEndian.PutUint32(crc[:], c.Sum32())
		bw.Write(crc[:])
	}
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(width))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(height))
	ihdr = append(ihdr, 16, 6, 0, 0, 1) // depth 16, RGBA, deflate, filter 0, Adam7
	chunk("IHDR", ihdr)

	idat := &idatWriter{chunk: chunk, buf: make([]byte, 0, 256<<10)}
	z, err := zlib.NewWriterLevel(idat, zlib.BestCompression)
	if err != nil {
		return err
	}
	const bpp = 8 // 4 samples x 2 bytes
	row := make([]byte, 1+width*bpp)
	for _, p := range adam7 {
		pw, ph := adam7Size(width, p.x0, p.dx), adam7Size(height, p.y0, p.dy)
		if pw == 0 || ph == 0 {
			continue // an empty pass has no scanlines, not even filter bytes
		}
		line := row[:1+pw*bpp] // filter byte 0 (None), then the pixels
		for y := 0; y < ph; y++ {
			if _, err := z.Write(line); err != nil {
				return err
			}
		}
	}
	if err := z.Close(); err != nil {
		return err
	}
	idat.flush()
	chunk("IEND", nil)
	return bw.Flush()
}

// adam7 is the pass layout: first column and row, then the steps.
var adam7 = []struct{ x0, y0, dx, dy int }{
	{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2},
}

// adam7Size is how many of n columns (or rows) a pass starting at start
// with step step covers.
func adam7Size(n, start, step int) int {
	if n <= start {
		return 0
	}
	return (n - start + step - 1) / step
}

// idatWriter cuts the zlib stream into IDAT chunks of up to 256 KiB.
type idatWriter struct {
	chunk func(string, []byte)
	buf   []byte
}

func (w *idatWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(len(p), cap(w.buf)-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if len(w.buf) == cap(w.buf) {
			w.flush()
		}
	}
	return n, nil
}

func (w *idatWriter) flush() {
	if len(w.buf) > 0 {
		w.chunk("IDAT", w.buf)
		w.buf = w.buf[:0]
	}
}

// genMemoryFiles writes the originals into dir, in parallel (the HEIC
// encode dominates). Missing tools or slow encodes skip a file, with the
// reason in notes.
func genMemoryFiles(dir string, o memoryOpts) (files []*memFile, notes []string, err error) {
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	add := func(f *memFile, note string, ferr error) {
		mu.Lock()
		defer mu.Unlock()
		if ferr != nil && err == nil {
			err = ferr
		}
		if note != "" {
			notes = append(notes, note)
		}
		if f != nil {
			files = append(files, f)
		}
	}
	wg.Add(1)
	go func() { // 11000 x 9000 = 99 MP, 16-bit RGBA, Adam7
		defer wg.Done()
		t0 := time.Now()
		p := filepath.Join(dir, "adam7-99mp-rgba16.png")
		fh, ferr := os.Create(p)
		if ferr != nil {
			add(nil, "", ferr)
			return
		}
		ferr = pngAdam7(fh, 11000, 9000)
		if cerr := fh.Close(); ferr == nil {
			ferr = cerr
		}
		add(&memFile{name: filepath.Base(p), desc: "PNG 11000x9000 RGBA 16-bit, Adam7 interlaced", genTime: time.Since(t0)}, "", ferr)
	}()
	vips, lookErr := exec.LookPath("vips")
	if lookErr != nil {
		notes = append(notes, "no `vips` CLI: progressive JPEG and HEIC skipped")
	} else {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			p := filepath.Join(dir, "progressive-48mp.jpg")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, ferr := exec.CommandContext(ctx, vips, "black", p+"[interlace,Q=90]", "8000", "6000", "--bands", "3").CombinedOutput()
			if ferr != nil {
				add(nil, fmt.Sprintf("progressive JPEG skipped: vips: %v %s", ferr, bytes.TrimSpace(out)), nil)
				return
			}
			add(&memFile{name: filepath.Base(p), desc: "JPEG 8000x6000 RGB, progressive, Q90", genTime: time.Since(t0)}, "", nil)
		}()
		if o.heicMP > 0 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// 3:2, the shape of a phone photo.
				h := int(sqrtInt(int64(o.heicMP) * 1_000_000 * 2 / 3))
				w := h * 3 / 2
				h, w = h/2*2, w/2*2
				t0 := time.Now()
				p := filepath.Join(dir, fmt.Sprintf("hevc-%dmp.heic", o.heicMP))
				ctx, cancel := context.WithTimeout(context.Background(), o.heicTimeout)
				defer cancel()
				out, ferr := exec.CommandContext(ctx, vips, "black", p+"[Q=50,bitdepth=8,effort=0]",
					strconv.Itoa(w), strconv.Itoa(h), "--bands", "3").CombinedOutput()
				switch {
				case ctx.Err() != nil:
					add(nil, fmt.Sprintf("HEIC %dx%d skipped: encoding took longer than %s (x265)", w, h, o.heicTimeout), nil)
					return
				case ferr != nil:
					add(nil, fmt.Sprintf("HEIC skipped: vips cannot write HEIF here: %v %s", ferr, bytes.TrimSpace(out)), nil)
					return
				}
				add(&memFile{name: filepath.Base(p), desc: fmt.Sprintf("HEIC %dx%d (%.0f MP), 8-bit HEVC", w, h, float64(w*h)/1e6), genTime: time.Since(t0)}, "", nil)
			}()
		}
	}
	wg.Wait()
	if err != nil {
		return nil, notes, err
	}
	order := map[string]int{".png": 0, ".jpg": 1, ".heic": 2}
	sort.Slice(files, func(i, j int) bool {
		return order[filepath.Ext(files[i].name)] < order[filepath.Ext(files[j].name)]
	})
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			return nil, notes, err
		}
		f.size = int64(len(b))
		if f.hdr, err = imagehdr.Parse(b, 1000); err != nil {
			return nil, notes, fmt.Errorf("%s: %w", f.name, err)
		}
		if f.hash, err = hashFile(dir, f.name); err != nil {
			return nil, notes, err
		}
		os.Chmod(filepath.Join(dir, f.name), 0o444)
	}
	return files, notes, nil
}

func sqrtInt(n int64) int64 {
	x := int64(1)
	for x*x < n {
		x++
	}
	return x
}

// procStatus reads VmRSS and VmHWM (MiB) of pid.
func procStatus(pid int) (rss, hwm int64) {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = n / 1024
		case "VmHWM:":
			hwm = n / 1024
		}
	}
	return rss, hwm
}

// startThumbd runs the binary on loopback over orig and waits for /readyz.
func startThumbd(bin, orig string, env []string) (cmd *exec.Cmd, base, admin string, logs *bytes.Buffer, err error) {
	addr, adm := freeAddr(), freeAddr()
	cmd = exec.Command(bin, "serve", "--listen", addr, "--admin-listen", adm, "--originals", orig, "--log-level", "warn")
	cmd.Env = append(append(os.Environ(), "THUMBD_KEYS="+key, "THUMBD_CONFIG="), env...)
	logs = &bytes.Buffer{}
	cmd.Stderr = logs
	if err = cmd.Start(); err != nil {
		return nil, "", "", nil, err
	}
	c := &http.Client{Timeout: time.Second}
	for i := 0; ; i++ {
		if r, err := c.Get("http://" + adm + "/readyz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				break
			}
		}
		if i > 400 {
			cmd.Process.Kill()
			cmd.Wait()
			return nil, "", "", nil, fmt.Errorf("thumbd not ready:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cmd, "http://" + addr, "http://" + adm, logs, nil
}

// runMemory generates the originals and measures each under each budget.
// It returns the Markdown section.
func runMemory(o memoryOpts) (string, error) {
	dir, err := os.MkdirTemp("", "thumbd-soak-mem")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	t0, load0 := time.Now(), loadAvg()
	files, notes, err := genMemoryFiles(dir, o)
	if err != nil {
		return "", err
	}
	genTime := time.Since(t0)
	for _, f := range files {
		fmt.Fprintf(os.Stderr, "soak: generated %s (%s, %d bytes) in %s\n", f.name, f.desc, f.size, f.genTime.Round(100*time.Millisecond))
	}
	for _, n := range notes {
		fmt.Fprintln(os.Stderr, "soak:", n)
	}
	if len(files) == 0 {
		return "", errors.New("no files generated")
	}

	signer, _ := signing.New([]string{key}, false)
	// Three sizes one pixel apart: identical requests would share one job
	// (thumbd collapses them), and three different photos would need three
	// 99 MP files; tile_500/501/502 decode the same original three times.
	sizes := []string{"tile_500", "tile_501", "tile_502"}
	var results []*memResult
	var failed []string
	for _, mb := range o.budgets {
		for _, f := range files {
			fmt.Fprintf(os.Stderr, "soak: %s at max_decode_mb %d...\n", f.name, mb)
			r, err := measureFile(o, dir, f, mb, sizes, signer)
			if err != nil {
				return "", err
			}
			results = append(results, r)
			failed = append(failed, r.unexpected...)
		}
	}
	section := memoryReport(o, load0, files, notes, genTime, results, time.Since(t0))
	if len(failed) > 0 {
		return section, fmt.Errorf("decode memory: %s", strings.Join(failed, "; "))
	}
	return section, nil
}

func measureFile(o memoryOpts, dir string, f *memFile, mb int, sizes []string, signer *signing.Signer) (*memResult, error) {
	// Only this file in the originals folder: one file's peak per process.
	orig, err := os.MkdirTemp(dir, "orig")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(orig)
	if err := os.Link(filepath.Join(dir, f.name), filepath.Join(orig, f.name)); err != nil {
		b, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			return nil, err
		}
		os.WriteFile(filepath.Join(orig, f.name), b, 0o444)
	}
	cmd, base, _, logs, err := startThumbd(o.bin, orig, []string{
		"THUMBD_MAX_DECODE_MB=" + strconv.Itoa(mb),
		"THUMBD_WORKERS=3",
		"THUMBD_CACHE_MB=0",    // every round decodes again
		"THUMBD_DERIVE=false",  // never from a cached larger variant
		"THUMBD_FAILURE_TTL=0", // every 422 is the budget's answer, not a remembered one
		"THUMBD_REQUEST_TIMEOUT=60s",
		"THUMBD_VIPS_CONCURRENCY=1",
		"THUMBD_MAX_MEGAPIXELS=100",
	})
	if err != nil {
		return nil, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	pid := cmd.Process.Pid

	size, _ := variant.ParseSize(sizes[0])
	r := &memResult{file: f, budgetMB: mb, estimate: transform.DecodeEstimate(f.hdr, size), statuses: map[int]int{}}
	time.Sleep(200 * time.Millisecond)
	r.rssBase, _ = procStatus(pid)

	stop := make(chan struct{})
	sampled := make(chan int64)
	go func() {
		peak, _ := procStatus(pid)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if rss, _ := procStatus(pid); rss > peak {
					peak = rss
				}
			case <-stop:
				sampled <- peak
				return
			}
		}
	}()

	client := &http.Client{Timeout: 90 * time.Second}
	var mu sync.Mutex
	// fire sends one request per size at once; the latencies come back
	// sorted.
	fire := func(sizes []string) []float64 {
		var wg sync.WaitGroup
		lat := make([]float64, len(sizes))
		for i, sz := range sizes {
			wg.Add(1)
			go func(i int, sz string) {
				defer wg.Done()
				tok, _ := signer.Sign(f.hash, sz, time.Time{})
				t0 := time.Now()
				resp, err := client.Get(base + "/t/" + f.hash + "/" + tok + "/" + sz)
				var body []byte
				if err == nil {
					body, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				lat[i] = time.Since(t0).Seconds()
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					r.errs = append(r.errs, err.Error())
					r.unexpected = append(r.unexpected, fmt.Sprintf("%s at %d MiB: %v", f.name, mb, err))
					return
				}
				r.statuses[resp.StatusCode]++
				want := 200
				if r.estimate > int64(mb)<<20 {
					want = 422
				}
				switch {
				case resp.StatusCode != want:
					r.unexpected = append(r.unexpected, fmt.Sprintf("%s at %d MiB: %d, want %d (%s)", f.name, mb, resp.StatusCode, want, bytes.TrimSpace(body[:min(len(body), 200)])))
				case want == 200 && !bytes.HasPrefix(body, []byte("\xff\xd8\xff")):
					r.unexpected = append(r.unexpected, fmt.Sprintf("%s at %d MiB: 200 but not a JPEG", f.name, mb))
				}
			}(i, sz)
		}
		wg.Wait()
		sort.Float64s(lat)
		return lat
	}
	// One job alone first, for its own peak, unless the budget runs them
	// one at a time anyway (then every job's peak is its own).
	if admitted(mb, r.estimate) != 1 {
		r.solo = fire([]string{"tile_503"})[0]
		_, r.hwmSolo = procStatus(pid)
	}
	for round := 0; round < o.rounds; round++ {
		r.rounds = append(r.rounds, fire(sizes))
	}
	close(stop)
	r.rssMax = <-sampled
	_, r.hwm = procStatus(pid)
	if r.solo == 0 {
		r.hwmSolo = r.hwm
	}
	if strings.Contains(logs.String(), "panic") {
		r.unexpected = append(r.unexpected, f.name+": thumbd logged a panic")
	}
	return r, nil
}

// admitted is how many jobs of est bytes the budget runs at once.
func admitted(mb int, est int64) int64 { return (int64(mb) << 20) / max(est, 1) }

func memoryReport(o memoryOpts, load0 string, files []*memFile, notes []string, genTime time.Duration, results []*memResult, total time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", memHeading)
	fmt.Fprintf(&b, "`%s` (%s, %d CPUs, %s in all, generating the files included; load average %s\n",
		commandLine(), time.Now().UTC().Format("2006-01-02"), numCPU(), total.Round(time.Second), load0)
	fmt.Fprintf(&b, "before, %s after: the machine was shared, so latencies are longer than on an idle one).\n\n", loadAvg())
	fmt.Fprintf(&b, "What the budget does: before libvips sees a byte, thumbd estimates each job's decode memory from\n")
	fmt.Fprintf(&b, "the image header (pixels x bands x bytes per sample; the whole frame, plus a quarter, for decoders\n")
	fmt.Fprintf(&b, "that cannot stream: interlaced PNG, GIF; every DCT coefficient for progressive JPEG; three times the\n")
	fmt.Fprintf(&b, "frame for HEIF) and reserves it from one process-wide budget, `max_decode_mb`. Jobs that do not\n")
	fmt.Fprintf(&b, "fit wait for room, first come first served (within `request_timeout`); a job that needs more than\n")
	fmt.Fprintf(&b, "the whole budget answers 422 at once, without decoding. ffmpeg (video posters) runs under\n")
	fmt.Fprintf(&b, "`prlimit --as` = `ffmpeg_memory_mb`, reserved from the same budget (not exercised here). Measured\n")
	fmt.Fprintf(&b, "before the budget existed (other settings): a 770 KB 99 MP RGBA16 interlaced PNG like the one\n")
	fmt.Fprintf(&b, "below peaked at about 1 GB RSS for one request and 1.7 GB for three.\n\n")
	fmt.Fprintf(&b, "Files, generated at run time (%s):\n\n", genTime.Round(100*time.Millisecond))
	for _, f := range files {
		fmt.Fprintf(&b, "- `%s`: %s, %s on disk, %.0f MB decoded\n", f.name, f.desc, humanBytes(f.size),
			float64(f.hdr.Pixels()*int64(f.hdr.Bands)*int64(max(f.hdr.BitsPerSample/8, 1)))/1e6)
	}
	for _, n := range notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	if o.heicMP > 0 && o.heicMP < 60 {
		fmt.Fprintf(&b, "- The HEIC is %d MP rather than a phone-panorama 67 MP: vips' x265 encoder (libheif's \"slow\"\n", o.heicMP)
		fmt.Fprintf(&b, "  preset) took 78 s (28 s of CPU) for 67 MP on this busy machine, too long for a bounded run\n")
		fmt.Fprintf(&b, "  (`-heic-mp 67` to try).\n")
	}
	fmt.Fprintf(&b, "\nEach file alone in a fresh thumbd per budget (`workers: 3`, `vips_concurrency: 1`,\n")
	fmt.Fprintf(&b, "`request_timeout: 60s`, result cache, derivation and failure cache off, so every round decodes\n")
	fmt.Fprintf(&b, "again), %d rounds of 3 concurrent requests: tile_500, tile_501 and tile_502 (three identical\n", o.rounds)
	fmt.Fprintf(&b, "requests would share one job). VmRSS sampled every 50 ms; the peak is the kernel's VmHWM over the\n")
	fmt.Fprintf(&b, "whole life of the process. \"Fit at once\" is the budget divided by the estimate. Latencies are\n")
	fmt.Fprintf(&b, "each round's 3 requests, fastest to slowest: a staircase means the budget ran them one (or two)\n")
	fmt.Fprintf(&b, "at a time, three about equal that they ran together.\n")
	for _, mb := range o.budgets {
		if mb >= 16384 {
			fmt.Fprintf(&b, "max_decode_mb %d is far above anything here: it stands in for no budget.\n", mb)
		}
	}
	fmt.Fprintf(&b, "\n")
	fmt.Fprintf(&b, "| file | max_decode_mb | estimate per job | fit at once | statuses | one job alone: s, RSS above idle | 3 at once: latencies per round (s) | queued | RSS idle | max VmRSS sample | **peak RSS (VmHWM)** |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|---|---|\n")
	var findings []string
	for _, r := range results {
		var st []string
		codes := []int{}
		for c := range r.statuses {
			codes = append(codes, c)
		}
		sort.Ints(codes)
		for _, c := range codes {
			st = append(st, fmt.Sprintf("%d x%d", c, r.statuses[c]))
		}
		if len(r.errs) > 0 {
			st = append(st, fmt.Sprintf("errors x%d", len(r.errs)))
		}
		var lats []string
		for _, l := range r.rounds {
			var s []string
			for _, x := range l {
				s = append(s, fmt.Sprintf("%.1f", x))
			}
			lats = append(lats, strings.Join(s, " / "))
		}
		fit := admitted(r.budgetMB, r.estimate)
		fitS := strconv.FormatInt(min(fit, 3), 10) + " of 3"
		est := r.estimate >> 20
		solo, one := "-", r.hwmSolo-r.rssBase
		switch {
		case fit == 0:
			fitS = "none: 422"
		case r.statuses[200] == 0:
		case r.solo == 0:
			solo = fmt.Sprintf("(every job ran alone) +%d MiB = %.2fx estimate", one, float64(one)/float64(est))
		default:
			solo = fmt.Sprintf("%.1f s, +%d MiB = %.2fx estimate", r.solo, one, float64(one)/float64(est))
		}
		fmt.Fprintf(&b, "| %s | %d | %d MiB | %s | %s | %s | %s | %s | %d MiB | %d MiB | **%d MiB** |\n",
			r.file.name, r.budgetMB, est, fitS, strings.Join(st, ", "), solo, strings.Join(lats, "; "),
			queued(r), r.rssBase, r.rssMax, r.hwm)
		if r.statuses[200] == 0 {
			continue
		}
		if float64(one) > 1.1*float64(est) {
			findings = append(findings, fmt.Sprintf("%s, one job alone: +%d MiB over idle, %.2fx its estimate of %d MiB (max_decode_mb %d).",
				r.file.name, one, float64(one)/float64(est), est, r.budgetMB))
		}
		if up := r.hwm - r.rssBase; r.budgetMB < 16384 && up > int64(r.budgetMB) {
			findings = append(findings, fmt.Sprintf("%s, 3 requests at max_decode_mb %d: RSS rose %d MiB over idle (%d MiB reserved at most: %d x %d MiB).",
				r.file.name, r.budgetMB, up, min(fit, 3)*est, min(fit, 3), est))
		}
	}
	if len(findings) > 0 {
		fmt.Fprintf(&b, "\nWhere RSS went past the estimate or the budget (the budget counts decoded pixels, not the\n")
		fmt.Fprintf(&b, "process: the Go heap, libvips' operation cache, codec state and the encoded output come on top):\n\n")
		for _, f := range findings {
			fmt.Fprintf(&b, "- %s\n", f)
		}
	}
	var bad []string
	for _, r := range results {
		bad = append(bad, r.unexpected...)
	}
	if len(bad) > 0 {
		fmt.Fprintf(&b, "\n**Unexpected:** %s\n", strings.Join(bad[:min(10, len(bad))], "; "))
	}
	return b.String()
}

// queued reads the latency spread: with 3 jobs at once they finish
// together; one at a time, the slowest takes about three times the fastest.
func queued(r *memResult) string {
	if r.statuses[200] == 0 {
		return "no (refused)"
	}
	var worst float64
	for _, l := range r.rounds {
		if len(l) == 3 && l[0] > 0 {
			worst = max(worst, l[2]/l[0])
		}
	}
	if worst >= 1.7 {
		return fmt.Sprintf("yes (slowest %.1fx fastest)", worst)
	}
	return fmt.Sprintf("no (slowest %.1fx fastest)", worst)
}

// loadAvg is the 1-minute load average.
func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "?"
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// commandLine is how this run was started, as `go run` would be typed.
func commandLine() string {
	return strings.TrimSpace("go run ./tools/soak " + strings.Join(os.Args[1:], " "))
}
