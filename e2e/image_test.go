package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// podman runs podman as scripts/image.sh does: runc (crun refuses this
// cgroup v1 layout), cgroupfs and file events without systemd, and the
// storage CONTAINERS_STORAGE_CONF names (a temporary one unless
// THUMBD_IMAGE says which image of podman's own storage to test).
type podman struct {
	flags []string
	env   []string
}

func (p *podman) cmd(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "podman", append(append([]string{}, p.flags...), args...)...)
	cmd.Env = p.env
	return cmd
}

// run runs podman and returns its stdout; it fails the test on an error.
func (p *podman) run(t *testing.T, timeout time.Duration, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := p.cmd(ctx, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("podman %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// limits are rlimits this process may give a container: rootful podman
// asks for more than a process without CAP_SYS_RESOURCE may set.
func limits() []string {
	var rl syscall.Rlimit
	nofile := uint64(1 << 20)
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Max < nofile {
		nofile = rl.Max
	}
	return []string{"--ulimit", fmt.Sprintf("nofile=%d:%d", nofile, nofile), "--ulimit", "nproc=4096:4096"}
}

// needTools skips (locally) or fails (CI) when a tool is missing.
func needTools(t *testing.T, what string, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "" {
				t.Skipf("%s not installed (run `make test` or `make image`); skipping the %s", tool, what)
			}
			t.Fatalf("%s not installed but CI is set: make test installs it", tool)
		}
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "" {
			t.Skipf("the %s runs rootful podman; not root", what)
		}
		t.Fatal("the container image test runs rootful podman, but CI is not root")
	}
}

// The Dockerfile, built with podman from base images made on this machine
// (scripts/image.sh), runs --read-only as user 65532 with the photos
// mounted read-only: its HEALTHCHECK passes, a signed URL returns the same
// bytes and ETag as the binary `make build` builds, SIGTERM stops it
// cleanly, and a bad config stops it with the one-line error.
func TestContainerImage(t *testing.T) {
	needTools(t, "container image test", "podman", "runc", "mmdebstrap", "slirp4netns")
	pm := &podman{flags: []string{"--runtime", "runc"}, env: os.Environ()}
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		pm.flags = append(pm.flags, "--cgroup-manager", "cgroupfs", "--events-backend", "file")
	}
	image := os.Getenv("THUMBD_IMAGE")
	if image == "" {
		// A storage of its own, removed afterwards: nothing is left in
		// podman's storage, nothing cached from an earlier run is used.
		store, err := os.MkdirTemp("", "thumbd-podman")
		if err != nil {
			t.Fatal(err)
		}
		conf := filepath.Join(store, "storage.conf")
		os.WriteFile(conf, []byte(fmt.Sprintf("[storage]\ndriver = \"overlay\"\ngraphroot = %q\nrunroot = %q\n",
			filepath.Join(store, "root"), filepath.Join(store, "run"))), 0o644)
		pm.env = append(pm.env, "CONTAINERS_STORAGE_CONF="+conf)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			pm.cmd(ctx, "rm", "--all", "--force", "--time", "0").Run()
			pm.cmd(ctx, "rmi", "--all", "--force").Run()
			if err := os.RemoveAll(store); err != nil {
				t.Errorf("podman storage not removed: %v", err)
			}
		})
		image = "localhost/thumbd:e2e"
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		t0 := time.Now()
		build := exec.CommandContext(ctx, "bash", "../scripts/image.sh", image)
		build.Env = pm.env
		logf := filepath.Join(store, "build.log")
		log, _ := os.Create(logf)
		build.Stdout, build.Stderr = log, log
		err = build.Run()
		log.Close()
		if err != nil {
			b, _ := os.ReadFile(logf)
			t.Fatalf("scripts/image.sh: %v after %v\n%s", err, time.Since(t0).Round(time.Second), tail(string(b), 60))
		}
		t.Logf("image built in %v (base images made on this machine, then the Dockerfile)", time.Since(t0).Round(time.Second))
	}

	// The image's own settings: non-root, the HEALTHCHECK of the
	// Dockerfile.
	var inspect []struct {
		Config struct {
			User       string
			Entrypoint []string
			Cmd        []string
		}
		Healthcheck struct{ Test []string }
		Size        int64
	}
	if err := json.Unmarshal([]byte(pm.run(t, time.Minute, "image", "inspect", image)), &inspect); err != nil || len(inspect) != 1 {
		t.Fatalf("image inspect: %v", err)
	}
	img := inspect[0]
	dockerfile, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^HEALTHCHECK [^\n]*(?:\\\n[^\n]*)*?\bCMD (\[[^\]]*\])`).FindSubmatch(dockerfile)
	var healthCmd []string
	if m == nil || json.Unmarshal(m[1], &healthCmd) != nil {
		t.Fatal("Dockerfile: no HEALTHCHECK ... CMD [...] line")
	}
	if img.Config.User != "65532:65532" || !reflect.DeepEqual(img.Healthcheck.Test, append([]string{"CMD"}, healthCmd...)) {
		t.Fatalf("image user %q, healthcheck %v; want 65532:65532 and CMD %v", img.Config.User, img.Healthcheck.Test, healthCmd)
	}
	t.Logf("image %s: %d MB, entrypoint %v %v", image, img.Size>>20, img.Config.Entrypoint, img.Config.Cmd)

	// The same photos and key for the container and for a `make build`
	// binary (same flags) on the host.
	photos := copyPhotos(t, "cops.jpg", "Landscape_1.jpg", "dice.png")
	os.Chmod(photos, 0o555)
	t.Cleanup(func() { os.Chmod(photos, 0o755) })
	hostBin := filepath.Join(t.TempDir(), "thumbd")
	if out, err := exec.Command("go", "build", "-trimpath", "-o", hostBin, "..").CombinedOutput(); err != nil {
		t.Fatalf("go build -trimpath (as make build): %v\n%s", err, out)
	}
	cfg := filepath.Join(t.TempDir(), "thumbd.yaml")
	writeConfig(t, cfg, photos, []string{key1}, nil)
	hostAddr, hostAdmin := freePort(t), freePort(t)
	host := exec.Command(hostBin, "serve", "--listen", hostAddr, "--admin-listen", hostAdmin, "--originals", photos, "--keys", key1)
	host.Env = append(os.Environ(), "THUMBD_CONFIG=", "THUMBD_KEYS=")
	hostErr := &syncBuffer{}
	host.Stderr = hostErr
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Process.Kill(); host.Wait() })

	// Published on a loopback port of the host; inside, the image's own
	// 8080 (what its HEALTHCHECK asks).
	port := freePort(t)
	name := fmt.Sprintf("thumbd-e2e-%d", os.Getpid())
	runArgs := append([]string{"run", "--detach", "--name", name, "--read-only", "--network", "slirp4netns",
		"--publish", port + ":8080", "--volume", photos + ":/photos:ro", "--env", "THUMBD_KEYS=" + key1}, limits()...)
	pm.run(t, 2*time.Minute, append(runArgs, image)...)
	t.Cleanup(func() {
		if t.Failed() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, _ := pm.cmd(ctx, "logs", name).CombinedOutput()
			t.Logf("container logs:\n%s", tail(string(out), 40))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		pm.cmd(ctx, "rm", "--force", "--time", "0", name).Run()
	})
	waitOK := func(url string) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if r, err := http.Get(url); err == nil {
				r.Body.Close()
				if r.StatusCode == 200 {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never answered 200", url)
			}
		}
	}
	waitOK("http://" + port + "/healthz")
	waitOK("http://" + hostAdmin + "/readyz")

	// Read-only everywhere, as user 65532.
	if id := strings.TrimSpace(pm.run(t, time.Minute, "exec", name, "id", "-u")); id != "65532" {
		t.Errorf("container runs as uid %s, want 65532", id)
	}
	for _, dir := range []string{"/usr/local/bin", "/photos"} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := pm.cmd(ctx, "exec", "--user", "0", name, "touch", dir+"/written").CombinedOutput()
		cancel()
		if err == nil || !strings.Contains(string(out), "Read-only file system") {
			t.Errorf("root in the container wrote to %s: %v %s", dir, err, out)
		}
	}
	if ro := strings.TrimSpace(pm.run(t, time.Minute, "inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}", name)); ro != "true" {
		t.Errorf("ReadonlyRootfs %s", ro)
	}

	// The image's HEALTHCHECK command, run by podman as a scheduler would.
	pm.run(t, time.Minute, "healthcheck", "run", name)
	if st := strings.TrimSpace(pm.run(t, time.Minute, "inspect", "--format", "{{.State.Health.Status}}", name)); st != "healthy" {
		t.Errorf("health status %q after the HEALTHCHECK ran", st)
	}

	for _, lib := range []string{"libvips42", "libjpeg62-turbo", "libwebp7", "libpng16-16"} {
		in := strings.TrimSpace(pm.run(t, time.Minute, "exec", name, "dpkg-query", "-W", "-f", "${Version}", lib))
		out, _ := exec.Command("dpkg-query", "-W", "-f", "${Version}", lib).Output()
		t.Logf("%s: image %s, host %s", lib, in, out) // where bytes differ, look here first
	}

	// Signed URLs: the container and the host binary give the same bytes
	// and the same ETag (same libvips, codecs and settings). AVIF is left
	// out: libheif may come from another suite on the host.
	for _, photo := range []string{"cops.jpg", "Landscape_1.jpg", "dice.png"} {
		out := run(t, "sign", "--config", cfg, "--size", "tile_500", "--size", "fit_720", "--size", "tile_224.webp", "--size", "fit_1280.png", photo)
		for _, path := range strings.Fields(out) {
			code, h, body := get(t, "http://"+port+path)
			hcode, hh, hbody := get(t, "http://"+hostAddr+path)
			if code != 200 || hcode != 200 || !bytes.Equal(body, hbody) || h.Get("ETag") != hh.Get("ETag") || h.Get("Content-Type") != hh.Get("Content-Type") || h.Get("ETag") == "" {
				t.Errorf("%s: container %d %s %s %d bytes, host %d %s %s %d bytes", path, code, h.Get("Content-Type"), h.Get("ETag"), len(body),
					hcode, hh.Get("Content-Type"), hh.Get("ETag"), len(hbody))
			}
		}
	}
	// SIGTERM (podman stop) drains and exits 0.
	pm.run(t, time.Minute, "stop", "--time", "25", name)
	if code := strings.TrimSpace(pm.run(t, time.Minute, "inspect", "--format", "{{.State.ExitCode}}", name)); code != "0" {
		t.Errorf("exit code %s after SIGTERM", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	logs, _ := pm.cmd(ctx, "logs", name).CombinedOutput()
	cancel()
	if !strings.Contains(string(logs), `"thumbd stopped","err":null`) {
		t.Errorf("no clean stop in the logs:\n%s", tail(string(logs), 10))
	}

	// A bad config stops it at once with one line naming the key: from
	// the environment, and from a mounted config file.
	bad := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(bad, []byte("jpeg_quality: 83\njpeg_qualty: 90\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--env", "THUMBD_KEYS=short"}, "thumbd: config: keys: key #1 is 5 bytes"},
		{[]string{"--env", "THUMBD_KEYS=" + key1, "--volume", bad + ":/etc/thumbd/config.yaml:ro", image, "serve", "--config", "/etc/thumbd/config.yaml"},
			`thumbd: config /etc/thumbd/config.yaml: unknown key "jpeg_qualty"`},
	} {
		args := append([]string{"run", "--rm", "--no-healthcheck", "--read-only", "--network", "none", "--volume", photos + ":/photos:ro"}, limits()...)
		args = append(args, tc.args...)
		if !strings.Contains(strings.Join(tc.args, " "), image) {
			args = append(args, image)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		var stdout, stderr bytes.Buffer
		cmd := pm.cmd(ctx, args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		cancel()
		// The container's output; podman's own notes (no systemd for
		// timers, say) are lines that start with time=.
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(stdout.String()+"\n"+stderr.String()), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "time=") {
				lines = append(lines, l)
			}
		}
		if err == nil || len(lines) != 1 || !strings.HasPrefix(lines[0], tc.want) {
			t.Errorf("%v: err %v, want exactly one line starting %q, got %q", tc.args, err, tc.want, lines)
		}
		if strings.Contains(stdout.String()+stderr.String(), key1) {
			t.Error("a key in the output")
		}
	}
}
