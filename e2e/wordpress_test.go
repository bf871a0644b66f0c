package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// WordPress itself (Debian's package, on PHP and MariaDB) as the blog: a
// post whose content is a share page's URL on its own line renders, through
// WordPress's own oEmbed discovery, as the photo in a link to the page at
// the size WordPress asked for (maxwidth 500); an album link embeds its
// cover; a revoked page falls back to a plain link.
func TestWordPressEmbedsSharePages(t *testing.T) {
	need := func(format string, a ...any) {
		t.Helper()
		if os.Getenv("CI") != "" {
			t.Fatalf(format, a...)
		}
		t.Skipf(format, a...)
	}
	php, err := exec.LookPath("php")
	if err != nil {
		need("php not installed (make test installs php-cli php-mysql wordpress mariadb-server)")
	}
	mariadbd, err1 := exec.LookPath("mariadbd")
	installDB, err2 := exec.LookPath("mariadb-install-db")
	client, err3 := exec.LookPath("mariadb")
	if err1 != nil || err2 != nil || err3 != nil {
		need("MariaDB not installed (make test installs mariadb-server)")
	}
	if _, err := os.Stat("/usr/share/wordpress/wp-settings.php"); err != nil {
		need("WordPress not installed (make test installs wordpress)")
	}

	// A private MariaDB: its own data folder and socket, no network.
	dir := t.TempDir()
	data, sock := filepath.Join(dir, "data"), filepath.Join(dir, "mysql.sock")
	if out, err := exec.Command(installDB, "--no-defaults", "--datadir="+data, "--auth-root-authentication-method=normal",
		"--skip-test-db", "--user=root").CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	var dbLog bytes.Buffer
	db := exec.Command(mariadbd, "--no-defaults", "--datadir="+data, "--socket="+sock, "--skip-networking",
		"--user=root", "--pid-file="+filepath.Join(dir, "mariadb.pid"))
	db.Stdout, db.Stderr = &dbLog, &dbLog
	if err := db.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { db.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			db.Process.Kill()
		}
	})
	up := false
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			up = true
			break
		}
	}
	if !up {
		t.Fatalf("MariaDB did not come up:\n%s", dbLog.String())
	}
	if out, err := exec.Command(client, "--no-defaults", "-S", sock, "-u", "root", "-e", "CREATE DATABASE wp CHARACTER SET utf8mb4").CombinedOutput(); err != nil {
		t.Fatalf("create database: %v\n%s", err, out)
	}

	lib := pageLibrary(t)
	p, cfg := startPages(t, lib)
	base := "http://" + p.addr
	content := filepath.Join(dir, "wp-content")
	os.MkdirAll(filepath.Join(content, "mu-plugins"), 0o755)
	plugin, err := os.ReadFile("testdata/wordpress/mu-plugins/thumbd-test-loopback.php")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(content, "mu-plugins", "thumbd-test-loopback.php"), plugin, 0o644)
	script, _ := filepath.Abs("testdata/wordpress/wp.php")
	_, port, _ := net.SplitHostPort(p.addr)
	wp := func(args ...string) map[string]any {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, php, append([]string{script}, args...)...)
		cmd.Env = append(os.Environ(), "WP_SOCKET="+sock, "WP_CONTENT="+content, "THUMBD_PORT="+port)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("php wp.php %v: %v\n%s\n%s", args, err, out, stderr.String())
		}
		var res map[string]any
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
			t.Fatalf("php wp.php %v: %v\n%s", args, err, out)
		}
		return res
	}
	if r := wp("install"); r["installed"] != true {
		t.Fatalf("WordPress install: %v", r)
	}

	sign := func(args ...string) string {
		return strings.TrimSpace(run(t, append([]string{"sign", "--config", cfg, "--base", base}, args...)...))
	}
	page := sign("--size", "page", "--title", `Dunes & "sea"`, "trip/Landscape_1.jpg")
	album := sign("--album", "trip")
	for _, tc := range []struct {
		link, alt string
		w, h      int
	}{
		{page, `Dunes & "sea"`, 480, 360},     // 1600x1200 in WordPress's default 500 x 750
		{album, "Album · 3 photos", 480, 360}, // the cover, Landscape_1
	} {
		r := wp("embed", tc.link)
		out, _ := r["html"].(string)
		pp := parseHTML(t, []byte(out))
		if len(pp.imgs) != 1 || !strings.Contains(out, `<a href="`+tc.link+`">`) {
			t.Fatalf("WordPress %v did not embed %s:\n%s", r["wordpress"], tc.link, out)
		}
		im := pp.imgs[0]
		if im["alt"] != tc.alt || im["width"] != itoa(tc.w) || im["height"] != itoa(tc.h) || !strings.HasPrefix(im["src"], tc.link+"/") && !strings.HasPrefix(im["src"], base+"/p/") {
			t.Errorf("WordPress embed of %s: %v", tc.link, im)
		}
		if w, h := checkImage(t, im["src"]); w != tc.w || h != tc.h {
			t.Errorf("embedded image %s is %dx%d, the embed says %dx%d", im["src"], w, h, tc.w, tc.h)
		}
		t.Logf("WordPress %v embedded %s as <img src=%s width=%s height=%s alt=%q>", r["wordpress"], tc.link, im["src"], im["width"], im["height"], im["alt"])
	}

	// Revoked: WordPress gets 410 from oEmbed and keeps a plain link.
	hash := strings.Split(page, "/")[4]
	pageConfig(t, cfg, lib, p.addr, hash+"/page")
	waitStatus(t, page, 410)
	r := wp("embed", page)
	if out, _ := r["html"].(string); strings.Contains(out, "<img") || !strings.Contains(out, page) {
		t.Errorf("revoked page still embeds:\n%s", out)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
