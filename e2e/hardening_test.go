package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/thumbd/thumbd/links"
	"github.com/thumbd/thumbd/signing"
)

// The hardening tests run the real binary against hostile or mistaken
// input: connection floods, browser attacks on the admin port, secrets on
// the command line, bad config, a cache folder pointing into the library
// and oversized originals. Everything is on loopback and bounded in count
// and time.

// hproc is a started thumbd; done closes when the process has exited, so
// tests can tell "refused to start" from "not ready yet".
type hproc struct {
	*proc
	done chan struct{}
}

type launchOpts struct {
	prefix []string // a wrapper exec'd in front of thumbd, e.g. prlimit
	env    []string // extra environment (after THUMBD_KEYS= and THUMBD_CONFIG=)
	admin  string   // admin address; "" picks a free loopback port
}

// launch is start with a wrapper, extra environment and a chosen admin
// address; it waits for /readyz with a deadline.
func launch(t *testing.T, o launchOpts, args ...string) *hproc {
	t.Helper()
	p := &hproc{proc: &proc{addr: freePort(t), admin: o.admin, stderr: &syncBuffer{}, stdout: &syncBuffer{}}, done: make(chan struct{})}
	if p.admin == "" {
		p.admin = freePort(t)
	}
	argv := append(append([]string{}, o.prefix...), bin, "serve", "--listen", p.addr, "--admin-listen", p.admin)
	argv = append(argv, args...)
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Stderr, p.cmd.Stdout = p.stderr, p.stdout
	p.cmd.Env = append(append(os.Environ(), "THUMBD_KEYS=", "THUMBD_CONFIG="), o.env...)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("thumbd stderr:\n%s", p.stderr.String())
		}
	})
	c := plainClient(2 * time.Second)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("thumbd exited during start-up (%v); stderr:\n%s", p.cmd.ProcessState, p.stderr.String())
		default:
		}
		if code, _, _ := fetch(c, "GET", "http://"+p.admin+"/readyz", "", nil, ""); code == 200 && p.logged() {
			return p
		}
		time.Sleep(50 * time.Millisecond) // poll interval, bounded by the deadline above
	}
	t.Fatalf("thumbd not ready after 30s; stderr:\n%s", p.stderr.String())
	return nil
}

// plainClient opens a fresh connection per request and closes it after,
// so the test's own idle keep-alive connections never show up in the
// server's descriptor count.
func plainClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
}

// fetch sends one request; host overrides the Host header when not empty.
// Transport errors come back as status 0 and the error text as body.
func fetch(c *http.Client, method, url, host string, hdr map[string]string, body string) (int, http.Header, string) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, err.Error()
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	r, err := c.Do(req)
	if err != nil {
		return 0, nil, err.Error()
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	return r.StatusCode, r.Header, string(b)
}

// configFile writes a YAML config from lines and returns its path.
func configFile(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "thumbd.yaml")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// yq quotes a string for YAML (double-quoted YAML takes Go's escapes).
func yq(s string) string { return fmt.Sprintf("%q", s) }

func sha1File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}

// signedURL mints a link with key1 the way `thumbd sign` does.
func signedURL(t *testing.T, base, hash, size string) string {
	t.Helper()
	sg, err := signing.New([]string{key1}, false)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := links.Minter{Signer: sg, Base: base}.Mint(links.Photo{Hash: hash}, []string{size})
	if err != nil {
		t.Fatal(err)
	}
	return ls[0].URL
}

func fdCount(t *testing.T, pid int) int {
	t.Helper()
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("descriptors of %d: %v", pid, err)
	}
	return len(es)
}

// waitFor polls cond until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond) // poll interval, bounded by the deadline
	}
}

// logLines returns the JSON log records on stderr whose msg is msg.
func logLines(stderr, msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(stderr))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// refuse runs `thumbd serve args...`, which must exit non-zero on its own
// within 20s (a process still running then has started instead of
// refusing), and returns its stderr.
func refuse(t *testing.T, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"serve"}, args...)...)
	cmd.Env = append(append(os.Environ(), "THUMBD_KEYS=", "THUMBD_CONFIG="), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Errorf("serve %v: still running after 20s, it started instead of refusing; stderr:\n%s", args, stderr.String())
		return stderr.String()
	}
	if err == nil {
		t.Errorf("serve %v: exit 0, want a refusal; stderr:\n%s", args, stderr.String())
	}
	return stderr.String()
}

// oneLine checks out is exactly one line containing every want.
func oneLine(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Errorf("%s: want exactly one line on stderr, got %d:\n%s", what, len(lines), out)
	}
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s: stderr does not contain %q:\n%s", what, w, out)
		}
	}
}

// 1. A flood of connections that declare a body and never send it cannot
// take every descriptor: probes on the admin port stay reachable, the
// read timeout frees the public port, and descriptors return to baseline.
func TestHardeningDescriptorExhaustion(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit (util-linux) not installed")
	}
	orig := copyPhotos(t, "cops.jpg")
	cfg := configFile(t, "originals: "+yq(orig), "keys: ["+yq(key1)+"]", "read_timeout: 2s", "idle_timeout: 2s")
	p := launch(t, launchOpts{prefix: []string{prlimit, "--nofile=256:256", "--"}}, "--config", cfg)
	pid := p.cmd.Process.Pid
	// prlimit execs thumbd in place: the pid is thumbd's. Check the limit
	// took, or the flood below would prove nothing.
	if lim, _ := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid)); !regexp.MustCompile(`Max open files\s+256\s+256`).Match(lim) {
		t.Fatalf("open-file limit not applied to thumbd:\n%s", lim)
	}
	url := signedURL(t, "http://"+p.addr, sha1File(t, filepath.Join(orig, "cops.jpg")), "tile_224.jpg")
	c := plainClient(10 * time.Second)
	// Render once, so the flood measures connections, not libvips.
	if code, _, body := fetch(c, "GET", url, "", nil, ""); code != 200 {
		t.Fatalf("image before the flood: %d %s", code, body)
	}
	base := fdCount(t, pid)

	const flood = 400
	u := strings.TrimPrefix(url, "http://"+p.addr)
	req := "GET " + u + " HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
	conns := make([]net.Conn, 0, flood)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < flood; i++ {
		nc, err := net.DialTimeout("tcp", p.addr, 3*time.Second)
		if err != nil {
			t.Fatalf("flood connection %d: %v", i, err)
		}
		conns = append(conns, nc)
		nc.SetWriteDeadline(time.Now().Add(3 * time.Second))
		if _, err := io.WriteString(nc, req); err != nil {
			t.Fatalf("flood connection %d: write: %v", i, err)
		}
	}
	// The flood must actually be holding descriptors, or the probes below
	// are answered by an idle server.
	var held int
	if !waitFor(5*time.Second, func() bool { held = fdCount(t, pid); return held >= base+100 }) {
		t.Fatalf("flood of %d connections holds only %d descriptors over the baseline %d", flood, held-base, base)
	}

	// A normal request queues behind the flood and is served once the read
	// timeout has cut off the connections ahead of it.
	type result struct {
		code  int
		ctype string
		took  time.Duration
	}
	img := make(chan result, 1)
	go func() {
		began := time.Now()
		code, h, _ := fetch(plainClient(25*time.Second), "GET", url, "", nil, "")
		img <- result{code, h.Get("Content-Type"), time.Since(began)}
	}()

	// While the flood lasts (the 2s read timeout frees it round by round),
	// probes answer at once: a probe that has to wait for a flood
	// connection to time out is one a kubelet counts as failed. The peak
	// descriptor count shows a reserve was kept below the limit.
	probe := plainClient(time.Second)
	peak, probes, slow := held, 0, 0
	var now int
	drained := waitFor(30*time.Second, func() bool {
		now = fdCount(t, pid)
		peak = max(peak, now)
		if now > base+50 {
			for _, path := range []string{"/healthz", "/readyz"} {
				probes++
				if code, _, body := fetch(probe, "GET", "http://"+p.admin+path, "", nil, ""); code != 200 {
					if slow++; slow <= 3 {
						t.Errorf("admin %s during the flood (%d descriptors): %d %s (probes must stay reachable within 1s)", path, now, code, body)
					}
				}
			}
		}
		// The flood's connections are still open on our side; the server
		// must have let go of all of them.
		return now <= base+8
	})
	t.Logf("descriptors: baseline %d, peak %d (limit 256); %d probes during the flood, %d failed", base, peak, probes, slow)
	if !drained {
		t.Errorf("descriptors did not return to baseline: %d now, baseline %d (read_timeout 2s)", now, base)
	}
	if peak > 256-32 {
		t.Errorf("the flood took %d of 256 descriptors; the public listener must leave a reserve (max_connections derived from the limit)", peak)
	}
	if r := <-img; r.code != 200 || r.ctype != "image/jpeg" {
		t.Errorf("image request during the flood: %d %q after %v", r.code, r.ctype, r.took)
	} else {
		t.Logf("image request during the flood answered in %v", r.took.Round(time.Millisecond))
	}

	// Idle keep-alive connections on the admin listener close after
	// idle_timeout (2s).
	ac, err := net.DialTimeout("tcp", p.admin, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	ac.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(ac, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(ac)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("admin keep-alive request: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Close {
		t.Fatalf("admin keep-alive request: %d, close %v; want 200 on a kept-alive connection", resp.StatusCode, resp.Close)
	}
	idle := time.Now()
	_, err = br.ReadByte()
	waited := time.Since(idle)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		t.Errorf("idle admin connection still open after %v (idle_timeout 2s)", waited.Round(time.Millisecond))
	case err == nil:
		t.Errorf("idle admin connection sent unexpected bytes")
	case waited < time.Second:
		t.Errorf("idle admin connection closed after only %v (%v); want about idle_timeout (2s)", waited, err)
	default:
		t.Logf("idle admin connection closed after %v (%v)", waited.Round(time.Millisecond), err)
	}
}

// 2. --dev signs with a public key, so it refuses an admin listener that
// other machines can reach (the picker there mints links); loopback starts.
func TestHardeningDevRefusesPublicAdmin(t *testing.T) {
	orig := copyPhotos(t, "cops.jpg")
	_, port, _ := net.SplitHostPort(freePort(t))
	for _, admin := range []string{"0.0.0.0:" + port, ":" + port} {
		out := refuse(t, nil, "--dev", "--listen", freePort(t), "--admin-listen", admin, "--originals", orig)
		oneLine(t, "--dev --admin-listen "+admin, out, "admin_listen")
	}
	// Loopback, by name: it starts and its probes answer.
	p := launch(t, launchOpts{admin: "localhost:" + port}, "--dev", "--originals", orig)
	if code, _, _ := fetch(plainClient(3*time.Second), "GET", "http://"+p.admin+"/healthz", "", nil, ""); code != 200 {
		t.Errorf("--dev with admin on localhost: /healthz %d", code)
	}
}

// 3. The admin listener answers only Host names a DNS rebinding cannot
// forge, and refuses cross-site state-changing requests.
func TestHardeningAdminHostAndCrossSite(t *testing.T) {
	orig := copyPhotos(t, "cops.jpg")
	cfg := configFile(t, "originals: "+yq(orig), "keys: ["+yq(key1)+"]", `admin_hosts: ["thumbd-admin.internal"]`)
	p := launch(t, launchOpts{}, "--config", cfg)
	_, port, _ := net.SplitHostPort(p.admin)
	c := plainClient(5 * time.Second)
	paths := []string{"/metrics", "/healthz", "/readyz", "/links/"}

	for _, host := range []string{"attacker.example", "attacker.example:" + port, "127.0.0.1.attacker.example", "thumbd-admin.internal.attacker.example"} {
		for _, path := range paths {
			if code, _, body := fetch(c, "GET", "http://"+p.admin+path, host, nil, ""); code != http.StatusMisdirectedRequest {
				t.Errorf("GET %s Host %s: %d, want 421: %.100s", path, host, code, body)
			}
		}
	}
	for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port, "[::1]", "[::1]:" + port,
		"thumbd-admin.internal", "thumbd-admin.internal:" + port, "THUMBD-ADMIN.internal."} {
		for _, path := range paths {
			if code, _, body := fetch(c, "GET", "http://"+p.admin+path, host, nil, ""); code != 200 {
				t.Errorf("GET %s Host %s: %d, want 200: %.100s", path, host, code, body)
			}
		}
	}

	// The picker answers its search form on any method; a POST a browser
	// sends for another site must not reach it.
	self := "http://127.0.0.1:" + port
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	with := func(kv ...string) map[string]string {
		h := map[string]string{}
		for k, v := range form {
			h[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			h[kv[i]] = kv[i+1]
		}
		return h
	}
	for name, hdr := range map[string]map[string]string{
		"Origin evil":             with("Origin", "https://evil.example"),
		"Origin null":             with("Origin", "null"),
		"Origin other port":       with("Origin", "http://127.0.0.1:1"),
		"Sec-Fetch-Site cross":    with("Sec-Fetch-Site", "cross-site"),
		"Sec-Fetch-Site sameSite": with("Sec-Fetch-Site", "same-site"),
		"same Origin, cross Site": with("Origin", self, "Sec-Fetch-Site", "cross-site"),
	} {
		if code, _, body := fetch(c, "POST", self+"/links/", "", hdr, "q=cops"); code != http.StatusForbidden {
			t.Errorf("POST /links/ %s: %d, want 403: %.100s", name, code, body)
		}
	}
	for name, hdr := range map[string]map[string]string{
		"same-origin":         with("Origin", self, "Sec-Fetch-Site", "same-origin"),
		"no Origin (curl)":    with(),
		"user-typed (none)":   with("Sec-Fetch-Site", "none"),
		"Origin, no metadata": with("Origin", self),
	} {
		if code, _, body := fetch(c, "POST", self+"/links/", "", hdr, "q=cops"); code != 200 {
			t.Errorf("POST /links/ %s: %d, want 200 (not refused by the guard): %.100s", name, code, body)
		}
	}
}

// 4. With pprof on, a key given on the command line is readable from no
// admin response: /debug/pprof/cmdline is gone.
func TestHardeningPprofHidesCommandLine(t *testing.T) {
	orig := copyPhotos(t, "cops.jpg")
	secret := "cmdline-secret-0123456789abcdefghijklmno" // 40 bytes
	cfg := configFile(t, "originals: "+yq(orig), "pprof: true")
	p := launch(t, launchOpts{}, "--config", cfg, "--keys", secret)
	// The secret is on the command line for real, so the checks below mean something.
	if cl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.cmd.Process.Pid)); !bytes.Contains(cl, []byte(secret)) {
		t.Fatalf("test setup: key not on thumbd's command line: %q", cl)
	}
	c := plainClient(10 * time.Second)
	admin := "http://" + p.admin
	for _, path := range []string{"/debug/pprof/cmdline", "/debug/pprof/cmdline?debug=1", "/debug/pprof/cmdline/", "/debug/pprof//cmdline"} {
		code, h, body := fetch(c, "GET", admin+path, "", nil, "")
		if code != 404 {
			t.Errorf("GET %s: %d, want 404", path, code)
		}
		if strings.Contains(body, secret) || strings.Contains(fmt.Sprint(h), secret) {
			t.Errorf("GET %s reveals the key", path)
		}
	}
	hash := sha1File(t, filepath.Join(orig, "cops.jpg"))
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=2", "/debug/pprof/heap?debug=1",
		"/debug/pprof/symbol", "/metrics", "/healthz", "/readyz", "/links/", "/links/photo?h=" + hash} {
		code, h, body := fetch(c, "GET", admin+path, "", nil, "")
		if code != 200 {
			t.Errorf("GET %s: %d, want 200", path, code)
		}
		if strings.Contains(body, secret) || strings.Contains(fmt.Sprint(h), secret) {
			t.Errorf("GET %s reveals the key", path)
		}
	}
	if strings.Contains(p.stderr.String(), secret) {
		t.Errorf("the key is in the log")
	}
}

// 5. Revocations from the config file and from THUMBD_REVOKED add up:
// the environment never un-revokes what the file revokes.
func TestHardeningRevocationsAddUp(t *testing.T) {
	orig := copyPhotos(t, "cops.jpg", "dice.png", "Landscape_1.jpg")
	a, b, keep := sha1File(t, filepath.Join(orig, "cops.jpg")), sha1File(t, filepath.Join(orig, "dice.png")), sha1File(t, filepath.Join(orig, "Landscape_1.jpg"))
	cfg := configFile(t, "originals: "+yq(orig), "keys: ["+yq(key1)+"]", "revoked: ["+yq(a)+"]")
	p := launch(t, launchOpts{env: []string{"THUMBD_REVOKED=" + b}}, "--config", cfg)
	c := plainClient(10 * time.Second)
	base := "http://" + p.addr
	for _, tc := range []struct {
		name, hash string
		want       int
	}{{"revoked in the file", a, 410}, {"revoked in the environment", b, 410}, {"not revoked", keep, 200}} {
		if code, _, body := fetch(c, "GET", signedURL(t, base, tc.hash, "tile_224.jpg"), "", nil, ""); code != tc.want {
			t.Errorf("%s: %d, want %d: %.100s", tc.name, code, tc.want, body)
		}
	}
	recs := logLines(p.stderr.String(), "revocations")
	if len(recs) != 1 {
		t.Fatalf("want one \"revocations\" log line at start-up, got %d:\n%s", len(recs), p.stderr.String())
	}
	r := recs[0]
	if r["total"] != 2.0 || r["from_file"] != 1.0 || r["from_env"] != 1.0 {
		t.Errorf("revocations log line: total %v, from_file %v, from_env %v; want 2, 1, 1: %v", r["total"], r["from_file"], r["from_env"], r)
	}
}

// 6. A value of the wrong type stops start-up with one line naming the key.
func TestHardeningConfigTypeErrors(t *testing.T) {
	orig := copyPhotos(t, "cops.jpg")
	for _, tc := range []struct {
		name string
		line string   // config file line
		env  []string // or environment
		key  string
	}{
		{"workers in file", "workers: abc", nil, "workers"},
		{"read_timeout in file", "read_timeout: soon", nil, "read_timeout"},
		{"read_timeout in env", "", []string{"THUMBD_READ_TIMEOUT=soon"}, "read_timeout"},
		{"max_connections in file", "max_connections: lots", nil, "max_connections"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := configFile(t, "originals: "+yq(orig), "keys: ["+yq(key1)+"]", tc.line)
			out := refuse(t, tc.env, "--config", cfg, "--listen", freePort(t), "--admin-listen", "")
			oneLine(t, tc.name, out, "config: "+tc.key+":")
		})
	}
}

// 7. A disk cache folder that resolves into the originals (itself a
// symlink, or below one) is refused: thumbd never writes into the library.
func TestHardeningDiskCacheSymlinkIntoOriginals(t *testing.T) {
	orig := copyPhotos(t, "cops.jpg")
	if err := os.Mkdir(filepath.Join(orig, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	tree := func() []string {
		var out []string
		filepath.WalkDir(orig, func(p string, d fs.DirEntry, err error) error {
			out = append(out, p)
			return nil
		})
		return out
	}
	before := tree()
	linkDir := t.TempDir()
	mk := func(name, target string) string {
		l := filepath.Join(linkDir, name)
		if err := os.Symlink(target, l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	toSub, toRoot := mk("to-sub", filepath.Join(orig, "sub")), mk("to-root", orig)
	for name, dir := range map[string]string{
		"symlink to a folder in the originals":   toSub,
		"symlink to the originals":               toRoot,
		"below a symlink to the originals":       filepath.Join(toRoot, "cache"),
		"below a symlink to an originals folder": filepath.Join(toSub, "thumbs", "cache"),
	} {
		cfg := configFile(t, "originals: "+yq(orig), "keys: ["+yq(key1)+"]", "disk_cache_dir: "+yq(dir))
		out := refuse(t, nil, "--config", cfg, "--listen", freePort(t), "--admin-listen", "")
		oneLine(t, name, out, "disk_cache_dir")
	}
	if after := tree(); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("the originals folder changed:\nbefore %v\nafter  %v", before, after)
	}
	// Control: a cache folder outside the library starts.
	cfg := configFile(t, "originals: "+yq(orig), "keys: ["+yq(key1)+"]", "disk_cache_dir: "+yq(filepath.Join(t.TempDir(), "cache")))
	launch(t, launchOpts{}, "--config", cfg)
}

// datedPhoto writes a small JPEG that keeps test_exif_full.jpg's EXIF
// (date taken, orientation 6), so a photo with a date fits under
// max_file_mb: 1.
func datedPhoto(t *testing.T, dst string) {
	t.Helper()
	img, err := vips.NewImageFromFile(filepath.Join("..", "testdata", "photos", "test_exif_full.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if err := img.Resize(0.1, vips.KernelLanczos3); err != nil {
		t.Fatal(err)
	}
	b, _, err := img.ExportJpeg(&vips.JpegExportParams{Quality: 80})
	if err != nil {
		t.Fatal(err)
	}
	back, err := vips.NewImageFromBuffer(b)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if back.GetString("exif-ifd2-DateTimeOriginal") == "" {
		t.Fatalf("test setup: the small copy lost its EXIF date (%v)", back.GetExif())
	}
	if err := os.WriteFile(dst, b, 0o444); err != nil {
		t.Fatal(err)
	}
}

// upright is a photo's displayed width and height (EXIF orientation applied).
func upright(t *testing.T, path string) (int, int) {
	t.Helper()
	img, err := vips.NewImageFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if o := img.Orientation(); o >= 5 && o <= 8 {
		return img.Height(), img.Width()
	}
	return img.Width(), img.Height()
}

// 8. `thumbd index` never reads a photo over max_file_mb, counts it, and
// writes dimensions and dates that `serve` then reuses without re-reading.
func TestHardeningIndexTooLargeAndDimensions(t *testing.T) {
	orig := copyPhotos(t, "cops.jpg")
	datedPhoto(t, filepath.Join(orig, "dated.jpg"))
	big := make([]byte, 2<<20)
	rand.Read(big)
	if err := os.WriteFile(filepath.Join(orig, "big.jpg"), big, 0o444); err != nil {
		t.Fatal(err)
	}
	ixPath := filepath.Join(t.TempDir(), "thumbd.index")
	cfg := configFile(t, "originals: "+yq(orig), "keys: ["+yq(key1)+"]", "max_file_mb: 1", "index_file: "+yq(ixPath))

	// Under strace when available: "not read" means never opened.
	argv := []string{bin, "index", "--config", cfg}
	trace := filepath.Join(t.TempDir(), "trace")
	strace, err := exec.LookPath("strace")
	if err == nil {
		argv = append([]string{strace, "-f", "-qq", "-e", "trace=open,openat,openat2", "-o", trace}, argv...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "THUMBD_KEYS=", "THUMBD_CONFIG=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("thumbd index: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String() + stderr.String()
	t.Logf("thumbd index:\n%s", out)
	if !strings.Contains(out, "indexed 2 files") {
		t.Errorf("thumbd index: want \"indexed 2 files\" (cops.jpg, dated.jpg):\n%s", out)
	}
	tooLarge := regexp.MustCompile(`(?i)\b1 (files? )?(too large|too_large|over max_file_mb|larger than max_file_mb)|(too large|too_large)[=: ]+1\b`)
	if !tooLarge.MatchString(out) {
		t.Errorf("thumbd index does not count the file over max_file_mb (want e.g. \"1 too large\"); it prints:\n%s", out)
	}
	if strace != "" {
		tr, _ := os.ReadFile(trace)
		for _, l := range strings.Split(string(tr), "\n") {
			if strings.Contains(l, `big.jpg"`) {
				t.Errorf("thumbd index opened the file over max_file_mb: %s", l)
			}
		}
	} else {
		t.Log("strace not installed: not checking that big.jpg is never opened")
	}

	// The index file: header, then one entry per photo with w, hh and t.
	raw, err := os.ReadFile(ixPath)
	if err != nil {
		t.Fatalf("index file: %v", err)
	}
	type entry struct {
		Path   string `json:"p"`
		Hash   string `json:"h"`
		Width  int    `json:"w"`
		Height int    `json:"hh"`
		Taken  int64  `json:"t"`
	}
	entries := map[string]entry{}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if !strings.HasPrefix(lines[0], `{"thumbd_index":`) {
		t.Fatalf("index file header: %s", lines[0])
	}
	for _, l := range lines[1:] {
		var e entry
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("index file line %q: %v", l, err)
		}
		entries[e.Path] = e
	}
	if _, ok := entries["big.jpg"]; ok {
		t.Errorf("index file lists big.jpg, which is over max_file_mb")
	}
	for _, name := range []string{"cops.jpg", "dated.jpg"} {
		e, ok := entries[name]
		w, h := upright(t, filepath.Join(orig, name))
		switch {
		case !ok:
			t.Errorf("index file has no entry for %s:\n%s", name, raw)
		case e.Width != w || e.Height != h:
			t.Errorf("index file: %s is %dx%d, want %dx%d (upright)", name, e.Width, e.Height, w, h)
		}
	}
	dated := entries["dated.jpg"]
	if dated.Taken == 0 {
		t.Errorf("index file: dated.jpg has no date taken (t):\n%s", raw)
	}

	// serve reuses the entries as they are: nothing hashed, dimensions and
	// date in the picker straight from the index file.
	p := launch(t, launchOpts{}, "--config", cfg)
	if recs := logLines(p.stderr.String(), "index ready"); len(recs) != 1 {
		t.Errorf("want one \"index ready\" log line, got %d", len(recs))
	} else if r := recs[0]; r["hashed"] != 0.0 || r["reused"] != 2.0 || r["too_large"] != 1.0 {
		t.Errorf("serve with the index file: hashed %v, reused %v, too_large %v; want 0, 2, 1", r["hashed"], r["reused"], r["too_large"])
	}
	c := plainClient(10 * time.Second)
	code, _, page := fetch(c, "GET", "http://"+p.admin+"/links/photo?h="+dated.Hash, "", nil, "")
	want := fmt.Sprintf("%d × %d px", dated.Width, dated.Height)
	taken := links.TakenString(time.Unix(dated.Taken, 0).UTC())
	if code != 200 || !strings.Contains(page, want) || !strings.Contains(page, taken) {
		t.Errorf("picker page of dated.jpg: %d, want %q and taken %q in:\n%.2000s", code, want, taken, page)
	}

	// `thumbd links` writes the same dimensions and date.
	lo := run(t, "links", "--config", cfg, "--size", "tile_224")
	var es []links.Entry
	if err := json.Unmarshal([]byte(lo), &es); err != nil {
		t.Fatalf("thumbd links: %v\n%s", err, lo)
	}
	byPath := map[string]links.Entry{}
	for _, e := range es {
		byPath[e.Path] = e
	}
	for _, name := range []string{"cops.jpg", "dated.jpg"} {
		e, ok := byPath[name]
		ie := entries[name]
		if !ok || e.Width != ie.Width || e.Height != ie.Height || e.Width == 0 {
			t.Errorf("thumbd links: %s is %dx%d (listed %v), want %dx%d", name, e.Width, e.Height, ok, ie.Width, ie.Height)
		}
	}
	if byPath["dated.jpg"].Taken != taken {
		t.Errorf("thumbd links: dated.jpg taken %q, want %q", byPath["dated.jpg"].Taken, taken)
	}
	if _, ok := byPath["big.jpg"]; ok {
		t.Errorf("thumbd links mints links for big.jpg, which is over max_file_mb (serve skips it; the links would fail)")
	}
}
