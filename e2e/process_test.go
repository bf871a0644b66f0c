// Package e2e runs the real thumbd binary as a user would: built from this
// module, started on a random loopback port, driven by its own CLI, its
// config file and signals.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/davidbyttow/govips/v2/vips"
	"golang.org/x/net/html"
)

var bin string

func TestMain(m *testing.M) {
	// Tests decode outputs with govips; keep its start-up chatter out.
	vips.LoggingSettings(nil, vips.LogLevelWarning)
	dir, err := os.MkdirTemp("", "thumbd-e2e")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "thumbd")
	out, err := exec.Command("go", "build", "-o", bin, "..").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const key1 = "e2e-key-one-0123456789abcdefghijklmnop"
const key2 = "e2e-key-two-0123456789abcdefghijklmnop"

// handedOut keeps freePort from giving the same port twice in one run
// (the kernel may offer a just-closed port again).
var handedOut sync.Map

func freePort(t *testing.T) string {
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		if _, dup := handedOut.LoadOrStore(addr, true); !dup {
			return addr
		}
	}
}

// inFlight reports whether thumbd's admin port counts a libvips job running.
func inFlight(admin string) bool {
	r, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		return false
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "thumbd_transforms_in_flight "); ok {
			return v != "0"
		}
	}
	return false
}

// copyPhotos copies a few sample photos into a fresh originals folder.
func copyPhotos(t *testing.T, names ...string) string {
	dir := t.TempDir()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "photos", n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o444); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type proc struct {
	cmd    *exec.Cmd
	addr   string
	admin  string
	stderr *syncBuffer
	stdout *syncBuffer
}

// syncBuffer is written by the child's output copier and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func writeConfig(t *testing.T, path, originals string, keys []string, revoked []string) {
	t.Helper()
	q := func(xs []string) string {
		for i, x := range xs {
			xs[i] = fmt.Sprintf("%q", x)
		}
		return "[" + strings.Join(xs, ", ") + "]"
	}
	cfg := fmt.Sprintf("originals: %q\nkeys: %s\nrevoked: %s\nlog_level: debug\n", originals, q(append([]string{}, keys...)), q(append([]string{}, revoked...)))
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil { // atomic, as editors and ConfigMaps do
		t.Fatal(err)
	}
}

func start(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{addr: freePort(t), admin: freePort(t), stderr: &syncBuffer{}, stdout: &syncBuffer{}}
	p.cmd = exec.Command(bin, append([]string{"serve", "--listen", p.addr, "--admin-listen", p.admin}, args...)...)
	p.cmd.Stderr, p.cmd.Stdout = p.stderr, p.stdout
	p.cmd.Env = append(os.Environ(), "THUMBD_KEYS=", "THUMBD_CONFIG=")
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("thumbd stderr:\n%s", p.stderr.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if r, err := http.Get("http://" + p.admin + "/readyz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 && p.logged() {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("thumbd not ready; stderr:\n%s", p.stderr.String())
	return nil
}

// logged reports whether the start-up log has reached stderr up to its
// "listening" line (thumbd buffers log lines and flushes them every second).
func (p *proc) logged() bool {
	s := p.stderr.String()
	return strings.Contains(s, `"msg":"listening"`) || strings.Contains(s, "msg=listening")
}

func run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "THUMBD_KEYS=", "THUMBD_CONFIG=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("thumbd %v: %v\n%s", args, err, errb.String())
	}
	return out.String()
}

func get(t *testing.T, url string) (int, http.Header, []byte) {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r.StatusCode, r.Header, b
}

// The README's quick start: `thumbd serve --dev` prints example URLs that work.
func TestDevModePrintsWorkingExamples(t *testing.T) {
	p := start(t, "--dev", "--originals", copyPhotos(t, "cops.jpg", "dice.png"))
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.stdout.String(), "Mint more") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	var urls []string
	sc := bufio.NewScanner(strings.NewReader(p.stdout.String()))
	for sc.Scan() {
		if f := strings.TrimSpace(sc.Text()); strings.HasPrefix(f, "http://") {
			urls = append(urls, f)
		}
	}
	if len(urls) != 6 {
		t.Fatalf("want 6 example URLs (2 photos x 3 sizes), got %d:\n%s", len(urls), p.stdout.String())
	}
	for _, u := range urls {
		if code, h, _ := get(t, u); code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "image/") {
			t.Errorf("%s: %d %s", u, code, h.Get("Content-Type"))
		}
	}
}

// --dev refuses a non-loopback address: its key is public.
func TestDevModeRefusesPublicAddress(t *testing.T) {
	cmd := exec.Command(bin, "serve", "--dev", "--listen", "0.0.0.0:0", "--originals", copyPhotos(t, "cops.jpg"))
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "loopback") {
		t.Fatalf("want a loopback refusal, got %v: %s", err, out)
	}
}

// Revocation and key rotation take effect on reload, with no restart: the
// same process (pid) answers before and after.
func TestReloadRevokesAndRotatesWithoutRestart(t *testing.T) {
	orig := copyPhotos(t, "cops.jpg", "Landscape_1.jpg")
	cfg := filepath.Join(t.TempDir(), "thumbd.yaml")
	writeConfig(t, cfg, orig, []string{key1}, nil)
	p := start(t, "--config", cfg)
	pid := p.cmd.Process.Pid
	base := "http://" + p.addr

	cops := strings.TrimSpace(run(t, "sign", "--config", cfg, "--base", base, "--size", "tile_224", "cops.jpg"))
	land := strings.TrimSpace(run(t, "sign", "--config", cfg, "--base", base, "--size", "tile_224", "--size", "fit_720", "Landscape_1.jpg"))
	landTile, landFit, _ := strings.Cut(land, "\n")
	for _, u := range []string{cops, landTile, landFit} {
		if code, _, _ := get(t, u); code != 200 {
			t.Fatalf("%s before revocation: %d", u, code)
		}
	}
	hash := strings.Split(cops, "/")[4]
	landHash := strings.Split(landTile, "/")[4]

	// Revoke all of cops.jpg and only tile_224 of Landscape_1 by editing the file.
	writeConfig(t, cfg, orig, []string{key1}, []string{hash, landHash + "/tile_224"})
	waitStatus(t, cops, 410)
	if code, _, _ := get(t, landTile); code != 410 {
		t.Errorf("revoked size: %d, want 410", code)
	}
	if code, _, _ := get(t, landFit); code != 200 {
		t.Errorf("other size of a partly revoked photo: %d, want 200", code)
	}

	// Rotation, step 1: new key first, old key kept -> old links still work,
	// new links are signed with the new key.
	writeConfig(t, cfg, orig, []string{key2, key1}, nil)
	waitStatus(t, cops, 200)
	fresh := strings.TrimSpace(run(t, "sign", "--config", cfg, "--base", base, "--size", "tile_224", "cops.jpg"))
	if fresh == cops {
		t.Fatal("new key minted the same token")
	}
	// Step 3: old key removed -> old links 403, new ones 200. Via SIGHUP this time.
	writeConfigNoWatch(t, cfg, orig, []string{key2})
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, cops, 403)
	if code, _, _ := get(t, fresh); code != 200 {
		t.Errorf("link minted with the new key: %d", code)
	}
	if p.cmd.Process.Pid != pid || p.cmd.ProcessState != nil {
		t.Fatal("process restarted")
	}
}

// writeConfigNoWatch writes the file too; the watcher may also pick it up,
// which is fine: the SIGHUP path must work on its own either way.
func writeConfigNoWatch(t *testing.T, path, originals string, keys []string) {
	writeConfig(t, path, originals, keys, nil)
}

func waitStatus(t *testing.T, url string, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	var code int
	for time.Now().Before(deadline) {
		if code, _, _ = get(t, url); code == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: status %d, want %d after reload", url, code, want)
}

// sign --format html writes an <img> that parses as HTML and whose every
// URL (src and srcset) returns the image it promises.
func TestSignHTMLSnippetURLsWork(t *testing.T) {
	orig := copyPhotos(t, "test_exif_full.jpg", "cops.jpg")
	cfg := filepath.Join(t.TempDir(), "thumbd.yaml")
	writeConfig(t, cfg, orig, []string{key1}, nil)
	p := start(t, "--config", cfg)
	base := "http://" + p.addr
	out := run(t, "sign", "--config", cfg, "--format", "html", "--base", base, "test_exif_full.jpg", "cops.jpg")
	doc, err := html.Parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var imgs, sources []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "img" {
			imgs = append(imgs, n)
		}
		if n.Type == html.ElementNode && n.Data == "source" {
			sources = append(sources, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if len(imgs) != 2 {
		t.Fatalf("want 2 <img>, got %d in:\n%s", len(imgs), out)
	}
	for _, img := range imgs {
		attrs := map[string]string{}
		for _, a := range img.Attr {
			attrs[a.Key] = a.Val
		}
		for _, k := range []string{"src", "width", "height", "alt"} {
			if attrs[k] == "" {
				t.Errorf("<img> without %s: %v", k, attrs)
			}
		}
		urls := []string{attrs["src"]}
		for _, cand := range strings.Split(attrs["srcset"], ",") {
			if f := strings.Fields(cand); len(f) == 2 {
				urls = append(urls, f[0])
			}
		}
		for _, u := range urls {
			code, h, body := get(t, u)
			if code != 200 || h.Get("Content-Type") != "image/jpeg" || len(body) == 0 {
				t.Errorf("%s: %d %s", u, code, h.Get("Content-Type"))
			}
		}
	}
	// The <picture>'s sources: every candidate answers in its type.
	if len(sources) != 4 {
		t.Errorf("want an AVIF and a WebP <source> per photo, got %d", len(sources))
	}
	for _, src := range sources {
		attrs := map[string]string{}
		for _, a := range src.Attr {
			attrs[a.Key] = a.Val
		}
		for _, cand := range strings.Split(attrs["srcset"], ",") {
			f := strings.Fields(cand)
			if len(f) != 2 {
				t.Errorf("srcset candidate %q", cand)
				continue
			}
			if code, h, _ := get(t, f[0]); code != 200 || h.Get("Content-Type") != attrs["type"] {
				t.Errorf("%s: %d %s, want %s", f[0], code, h.Get("Content-Type"), attrs["type"])
			}
		}
	}
	if !strings.Contains(out, `width="540" height="720"`) {
		t.Errorf("portrait iPhone photo should be 540x720 at fit_720:\n%s", out)
	}
}

// SIGTERM lets an in-flight request finish, then the process exits 0.
func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	orig := copyPhotos(t, "test_exif_full.jpg")
	cfg := filepath.Join(t.TempDir(), "thumbd.yaml")
	writeConfig(t, cfg, orig, []string{key1}, nil)
	p := start(t, "--config", cfg)
	u := strings.TrimSpace(run(t, "sign", "--config", cfg, "--base", "http://"+p.addr, "--size", "fit_3840", "test_exif_full.jpg"))
	type res struct {
		code int
		n    int
		err  error
	}
	ch := make(chan res, 1)
	go func() {
		r, err := http.Get(u)
		if err != nil {
			ch <- res{err: err}
			return
		}
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		ch <- res{r.StatusCode, len(b), err}
	}()
	// SIGTERM only once the request is being rendered (the admin port's
	// gauge says so), so it is really in flight.
	deadline := time.Now().Add(20 * time.Second)
	for !inFlight(p.admin) {
		if time.Now().After(deadline) {
			t.Fatal("the request never reached the renderer")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-ch:
		if r.err != nil || r.code != 200 || r.n == 0 {
			t.Fatalf("in-flight request during shutdown: %+v", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("in-flight request did not finish")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, p.stderr.String())
		}
	case <-ctx.Done():
		t.Fatal("did not exit after SIGTERM")
	}
}

// A bad config stops start-up with one line naming the key.
func TestConfigErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"THUMBD_KEYS="}, "config: keys:"},
		{[]string{"THUMBD_KEYS=short"}, "config: keys: key #1 is 5 bytes"},
		{[]string{"THUMBD_KEYS=" + key1, "THUMBD_ORIGINALS=/nonexistent/photos"}, "config: originals:"},
		{[]string{"THUMBD_KEYS=" + key1, "THUMBD_JPEG_QUALITY=0"}, "config: jpeg_quality:"},
		{[]string{"THUMBD_KEYS=" + key1, "THUMBD_MAX_SIZE=tile_500"}, "config: max_size:"},
		{[]string{"THUMBD_KEYS=" + key1, "THUMBD_REVOKED=nothex"}, "config: revoked:"},
	} {
		cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--admin-listen", "")
		cmd.Env = append(append(os.Environ(), "THUMBD_CONFIG=", "THUMBD_ORIGINALS="+copyPhotos(t, "cops.jpg")), tc.env...)
		out, err := cmd.CombinedOutput()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if err == nil || !strings.Contains(string(out), tc.want) || len(lines) != 1 {
			t.Errorf("%v: err %v, want one line containing %q, got:\n%s", tc.env, err, tc.want, out)
		}
		if strings.Contains(string(out), key1) {
			t.Errorf("%v: secret in output", tc.env)
		}
	}
}

// /readyz answers 503 while the index is being built (the admin listener
// is up first) and 200 once it is loaded; /healthz is 200 throughout.
func TestReadyOnlyAfterIndexing(t *testing.T) {
	orig := t.TempDir()
	src := filepath.Join("..", "testdata", "photos", "seeding_by_Clements_Engelhardt.jpg")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(orig, "p000.jpg")
	os.WriteFile(first, b, 0o444)
	// Hard links: 300 files to hash (~450 MB read), no disk space used.
	for i := 1; i < 300; i++ {
		if err := os.Link(first, filepath.Join(orig, fmt.Sprintf("p%03d.jpg", i))); err != nil {
			t.Fatal(err)
		}
	}
	addr, admin := freePort(t), freePort(t)
	cmd := exec.Command(bin, "serve", "--listen", addr, "--admin-listen", admin, "--originals", orig)
	cmd.Env = append(os.Environ(), "THUMBD_KEYS="+key1, "THUMBD_CONFIG=", "THUMBD_INDEX_WORKERS=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()

	client := &http.Client{Timeout: time.Second}
	status := func(path string) int {
		r, err := client.Get("http://" + admin + path)
		if err != nil {
			return 0
		}
		r.Body.Close()
		return r.StatusCode
	}
	var sawNotReady, sawHealthyWhileNotReady bool
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		switch status("/readyz") {
		case 503:
			sawNotReady = true
			if status("/healthz") == 200 {
				sawHealthyWhileNotReady = true
			}
		case 200:
			if !sawNotReady || !sawHealthyWhileNotReady {
				t.Fatalf("ready without being seen not-ready first (not ready seen: %v, healthy meanwhile: %v)", sawNotReady, sawHealthyWhileNotReady)
			}
			// The public port serves once ready.
			if r, err := client.Get("http://" + addr + "/healthz"); err != nil || r.StatusCode != 200 {
				t.Fatalf("public port after ready: %v", err)
			}
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("never became ready")
}
