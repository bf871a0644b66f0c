package config_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/thumbd/thumbd/config"
	"github.com/thumbd/thumbd/variant"
)

const (
	key1 = "key-one-0123456789abcdef0123456789abcdef"
	key2 = "key-two-0123456789abcdef0123456789abcdef"
	keyF = "fallback-key-0123456789abcdef0123456789"
)

func defaults(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cleanEnv hides any THUMBD_* variable of the environment running the tests
// (viper ignores empty variables).
func cleanEnv(t testing.TB) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "THUMBD_") {
			t.Setenv(k, "")
		}
	}
}

func flags(t testing.TB, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.SetOutput(&bytes.Buffer{})
	config.Flags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	return fs
}

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	c, err := config.Load(defaults(t), flags(t, "--originals", dir), []string{keyF})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	// Field by field, so new settings do not break the test.
	for _, tc := range []struct {
		key       string
		got, want any
	}{
		{"listen", c.Listen, "127.0.0.1:8080"},
		{"originals", c.Originals, dir},
		{"public", c.Public, false},
		{"jpeg_quality", c.JPEGQuality, 83},
		{"jpeg_quality_small", c.JPEGQualitySmall, 78},
		{"max_size", c.MaxSize.String(), "fit_7680"},
		{"crop", c.Crop, variant.CropCentre},
		{"background", c.Background, variant.White},
		{"max_megapixels", c.MaxMegapixels, 100},
		{"max_file_mb", c.MaxFileMB, 200},
		{"workers", c.Workers, 0},
		{"queue_length", c.QueueLength, 64},
		{"request_timeout", c.RequestTimeout, 30 * time.Second},
		{"shutdown_timeout", c.ShutdownTimeout, 20 * time.Second},
		{"index_workers", c.IndexWorkers, 0},
		{"vips_concurrency", c.VipsConcurrency, 1},
		{"log_level", c.LogLevel, slog.LevelInfo},
		{"log_format", c.LogFormat, "json"},
		{"file", c.File, ""},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s = %v; want %v", tc.key, tc.got, tc.want)
		}
	}
	if !slices.Equal(c.Keys, []string{keyF}) {
		t.Errorf("Keys = %q; want the fallback key", c.Keys)
	}
}

func TestPrecedence(t *testing.T) {
	type src struct{ file, env, flag bool }
	for _, tc := range []struct {
		name       string
		src        src
		wantListen string
		wantLevel  string
		wantQ      int
	}{
		{"defaults only", src{}, "127.0.0.1:8080", "info", 83},
		{"file over defaults", src{file: true}, "127.0.0.1:9001", "warn", 70},
		{"env over file", src{file: true, env: true}, "127.0.0.1:9002", "error", 60},
		{"env over defaults", src{env: true}, "127.0.0.1:9002", "error", 60},
		{"flag over env and file", src{file: true, env: true, flag: true}, "127.0.0.1:9003", "debug", 60},
		{"flag over file", src{file: true, flag: true}, "127.0.0.1:9003", "debug", 70},
		{"flag over defaults", src{flag: true}, "127.0.0.1:9003", "debug", 83},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			tmp := t.TempDir()
			origDefault := filepath.Join(tmp, "orig-default")
			origFile := filepath.Join(tmp, "orig-file")
			origEnv := filepath.Join(tmp, "orig-env")
			origFlag := filepath.Join(tmp, "orig-flag")
			for _, d := range []string{origDefault, origFile, origEnv, origFlag} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			// The defaults' relative originals would not exist from here;
			// point them at a temp folder without touching anything else.
			defs := bytes.Replace(defaults(t), []byte(`originals: "testdata/photos"`), []byte(`originals: "`+origDefault+`"`), 1)
			if bytes.Equal(defs, defaults(t)) {
				t.Fatal("config.yaml no longer sets originals: \"testdata/photos\"; update the test")
			}
			wantOrig := origDefault
			var args []string
			if tc.src.file {
				f := writeFile(t, tmp, "thumbd.yaml", "listen: 127.0.0.1:9001\nlog_level: warn\njpeg_quality: 70\noriginals: "+origFile+"\nkeys: ["+key1+"]\n")
				args = append(args, "--config", f)
				wantOrig = origFile
			}
			if tc.src.env {
				t.Setenv("THUMBD_LISTEN", "127.0.0.1:9002")
				t.Setenv("THUMBD_LOG_LEVEL", "error")
				t.Setenv("THUMBD_JPEG_QUALITY", "60")
				t.Setenv("THUMBD_ORIGINALS", origEnv)
				wantOrig = origEnv
			}
			if tc.src.flag {
				args = append(args, "--listen", "127.0.0.1:9003", "--log-level", "debug", "--originals", origFlag)
				wantOrig = origFlag
			}
			c, err := config.Load(defs, flags(t, args...), []string{keyF})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.Listen != tc.wantListen {
				t.Errorf("Listen = %q; want %q", c.Listen, tc.wantListen)
			}
			if c.LogLevel.String() != strings.ToUpper(tc.wantLevel) {
				t.Errorf("LogLevel = %v; want %s", c.LogLevel, tc.wantLevel)
			}
			if c.JPEGQuality != tc.wantQ {
				t.Errorf("JPEGQuality = %d; want %d", c.JPEGQuality, tc.wantQ)
			}
			if c.Originals != wantOrig {
				t.Errorf("Originals = %q; want %q", c.Originals, wantOrig)
			}
			// Keys the file does not override keep their defaults.
			if c.MaxSize.String() != "fit_7680" || c.QueueLength != 64 {
				t.Errorf("MaxSize, QueueLength = %q, %d; want defaults", c.MaxSize, c.QueueLength)
			}
		})
	}
}

func TestConfigFileSources(t *testing.T) {
	cleanEnv(t)
	tmp := t.TempDir()
	envFile := writeFile(t, tmp, "env.yaml", "listen: 127.0.0.1:7001\n")
	flagFile := writeFile(t, tmp, "flag.yaml", "listen: 127.0.0.1:7002\n")

	t.Run("THUMBD_CONFIG", func(t *testing.T) {
		t.Setenv("THUMBD_CONFIG", envFile)
		c, err := config.Load(defaults(t), flags(t, "--originals", tmp), []string{keyF})
		if err != nil {
			t.Fatal(err)
		}
		if c.Listen != "127.0.0.1:7001" || c.File != envFile {
			t.Errorf("Listen, File = %q, %q; want the THUMBD_CONFIG file's", c.Listen, c.File)
		}
	})
	t.Run("--config beats THUMBD_CONFIG", func(t *testing.T) {
		t.Setenv("THUMBD_CONFIG", envFile)
		c, err := config.Load(defaults(t), flags(t, "--originals", tmp, "--config", flagFile), []string{keyF})
		if err != nil {
			t.Fatal(err)
		}
		if c.Listen != "127.0.0.1:7002" || c.File != flagFile {
			t.Errorf("Listen, File = %q, %q; want the --config file's", c.Listen, c.File)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := config.Load(defaults(t), flags(t, "--originals", tmp, "--config", filepath.Join(tmp, "nope.yaml")), []string{keyF})
		if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
			t.Fatalf("Load = %v; want an error naming nope.yaml", err)
		}
	})
	t.Run("nil flag set", func(t *testing.T) {
		t.Setenv("THUMBD_ORIGINALS", tmp)
		c, err := config.Load(defaults(t), nil, []string{keyF})
		if err != nil {
			t.Fatal(err)
		}
		if c.Originals != tmp {
			t.Errorf("Originals = %q; want %q", c.Originals, tmp)
		}
	})
}

func TestKeys(t *testing.T) {
	for _, tc := range []struct {
		name     string
		file     string // config file body, if any
		env      string // THUMBD_KEYS, if any
		args     []string
		fallback []string
		want     []string
		public   bool
	}{
		{"env comma-separated", "", key1 + "," + key2, nil, nil, []string{key1, key2}, false},
		{"env with spaces and empty parts", "", " " + key1 + " ,, " + key2 + ",", nil, nil, []string{key1, key2}, false},
		{"env single", "", key1, nil, []string{keyF}, []string{key1}, false},
		{"file list", "keys: [" + key1 + ", " + key2 + "]\n", "", nil, []string{keyF}, []string{key1, key2}, false},
		{"file string", "keys: \"" + key2 + "," + key1 + "\"\n", "", nil, nil, []string{key2, key1}, false},
		{"flag", "", "", []string{"--keys", key2 + "," + key1}, []string{keyF}, []string{key2, key1}, false},
		{"flag repeated", "", "", []string{"--keys", key1, "--keys", key2}, nil, []string{key1, key2}, false},
		{"flag beats env", "", key1, []string{"--keys", key2}, nil, []string{key2}, false},
		{"env beats file", "keys: [" + key1 + "]\n", key2, nil, nil, []string{key2}, false},
		{"fallback when nothing set", "", "", nil, []string{keyF}, []string{keyF}, false},
		{"fallback when file sets empty list", "keys: []\n", "", nil, []string{keyF}, []string{keyF}, false},
		{"public with no keys", "public: true\n", "", nil, nil, nil, true},
		{"public flag with no keys", "", "", []string{"--public"}, nil, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			tmp := t.TempDir()
			args := append([]string{"--originals", tmp}, tc.args...)
			if tc.file != "" {
				args = append(args, "--config", writeFile(t, tmp, "c.yaml", tc.file))
			}
			if tc.env != "" {
				t.Setenv("THUMBD_KEYS", tc.env)
			}
			c, err := config.Load(defaults(t), flags(t, args...), tc.fallback)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !slices.Equal(c.Keys, tc.want) {
				t.Errorf("Keys = %q; want %q", c.Keys, tc.want)
			}
			if c.Public != tc.public {
				t.Errorf("Public = %v; want %v", c.Public, tc.public)
			}
		})
	}
}

func TestValidationErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		file     string
		env      map[string]string
		args     []string
		noOrig   bool // do not pass --originals
		fallback []string
		want     []string // substrings of the error
	}{
		{name: "no keys", fallback: nil, want: []string{"keys:", "public"}},
		{name: "originals missing", noOrig: true, args: []string{"--originals", "/nonexistent/thumbd-photos"}, want: []string{"originals:", "does not exist"}},
		{name: "originals default relative missing", noOrig: true, want: []string{"originals:", "testdata/photos"}},
		{name: "originals empty", noOrig: true, file: "originals: \"\"\n", want: []string{"originals:", "empty"}},
		{name: "originals is a file", noOrig: true, args: []string{"--originals", "../config.yaml"}, want: []string{"originals:", "not a folder"}},
		{name: "short key env", env: map[string]string{"THUMBD_KEYS": "short-key"}, want: []string{"keys:", "9 bytes"}},
		{name: "short second key", env: map[string]string{"THUMBD_KEYS": key1 + ",0123456789012345678901234567890"}, want: []string{"keys:", "key #2", "31 bytes"}},
		{name: "short key flag", args: []string{"--keys", "abc"}, want: []string{"keys:"}},
		{name: "short key even when public", args: []string{"--public", "--keys", "abc"}, want: []string{"keys:"}},
		{name: "jpeg_quality 0", file: "jpeg_quality: 0\n", want: []string{"jpeg_quality: 0"}},
		{name: "jpeg_quality 101", file: "jpeg_quality: 101\n", want: []string{"jpeg_quality: 101"}},
		{name: "jpeg_quality env 0", env: map[string]string{"THUMBD_JPEG_QUALITY": "0"}, want: []string{"jpeg_quality: 0"}},
		{name: "jpeg_quality_small 101", file: "jpeg_quality_small: 101\n", want: []string{"jpeg_quality_small: 101"}},
		{name: "max_size tile_500", file: "max_size: tile_500\n", want: []string{"max_size:", "tile_500"}},
		{name: "max_size fit_999", file: "max_size: fit_999\n", want: []string{"max_size:", "fit_999"}},
		{name: "max_megapixels negative", file: "max_megapixels: -1\n", want: []string{"max_megapixels:"}},
		{name: "workers negative", file: "workers: -1\n", want: []string{"workers:"}},
		{name: "vips_concurrency 0", file: "vips_concurrency: 0\n", want: []string{"vips_concurrency:"}},
		{name: "unknown key", file: "listen: 127.0.0.1:1\nmax_sise: fit_720\n", want: []string{"unknown key", "max_sise"}},
		{name: "unknown nested key", file: "server:\n  port: 8080\n", want: []string{"unknown key", "server.port"}},
		{name: "invalid YAML", file: "listen: [unclosed\n", want: []string{"not valid YAML"}},
		{name: "invalid YAML tabs", file: "listen:\n\t- x\n", want: []string{"not valid YAML"}},
		{name: "bad log_level file", file: "log_level: loud\n", want: []string{"log_level:", "loud"}},
		{name: "bad log_level flag", args: []string{"--log-level", "verbose"}, want: []string{"log_level:", "verbose"}},
		{name: "bad log_format", file: "log_format: xml\n", want: []string{"log_format:", "xml"}},
		{name: "request_timeout 0s", file: "request_timeout: 0s\n", want: []string{"request_timeout:"}},
		{name: "request_timeout env 0s", env: map[string]string{"THUMBD_REQUEST_TIMEOUT": "0s"}, want: []string{"request_timeout:"}},
		{name: "request_timeout negative", file: "request_timeout: -5s\n", want: []string{"request_timeout:"}},
		{name: "shutdown_timeout 0s", file: "shutdown_timeout: 0s\n", want: []string{"shutdown_timeout:"}},
		{name: "listen empty", file: "listen: \"\"\n", want: []string{"listen:"}},
		{name: "type error string for int", file: "workers: abc\ncache_mb: [1]\n", want: []string{"config: ", "workers: ", "int"}},
		{name: "type error list for int", file: "cache_mb: [1]\n", want: []string{"cache_mb: "}},
		{name: "type error env duration", env: map[string]string{"THUMBD_READ_TIMEOUT": "soon"}, want: []string{"read_timeout: "}},
		{name: "max_decode_mb too small", file: "max_decode_mb: 1\n", want: []string{"max_decode_mb:"}},
		{name: "max_frames 0", file: "max_frames: 0\n", want: []string{"max_frames:"}},
		{name: "read_timeout 0", file: "read_timeout: 0s\n", want: []string{"read_timeout:"}},
		{name: "admin_hosts wildcard", file: "admin_hosts: ['*']\n", want: []string{"admin_hosts:"}},
		{name: "prerender without disk cache", file: "prerender: [tile_224]\n", want: []string{"prerender:", "disk_cache_dir"}},
		{name: "prerender bad size", file: "prerender: [tile_224, huge_9]\ndisk_cache_dir: /tmp/x-thumbd\n", want: []string{"prerender:", "huge_9"}},
		{name: "prerender original", env: map[string]string{"THUMBD_PRERENDER": "original", "THUMBD_DISK_CACHE_DIR": "/tmp/x-thumbd"}, want: []string{"prerender:", "original"}},
		{name: "prerender_workers 0", file: "prerender_workers: 0\n", want: []string{"prerender_workers:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			tmp := t.TempDir()
			args := tc.args
			if !tc.noOrig {
				args = append([]string{"--originals", tmp}, args...)
			}
			if tc.file != "" {
				args = append(args, "--config", writeFile(t, tmp, "c.yaml", tc.file))
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			fallback := tc.fallback
			if tc.name != "no keys" {
				fallback = []string{keyF}
			}
			c, err := config.Load(defaults(t), flags(t, args...), fallback)
			if err == nil {
				t.Fatalf("Load = %+v; want an error containing %q", c, tc.want)
			}
			if c != nil {
				t.Errorf("Load returned a config with error %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is more than one line", err)
			}
		})
	}
}

func TestValidateDirect(t *testing.T) {
	cleanEnv(t)
	tmp := t.TempDir()
	c, err := config.Load(defaults(t), flags(t, "--originals", tmp), []string{keyF})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate on a loaded config: %v", err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*config.Config)
		want   string
	}{
		{"jpeg_quality 0", func(c *config.Config) { c.JPEGQuality = 0 }, "jpeg_quality:"},
		{"jpeg_quality 101", func(c *config.Config) { c.JPEGQuality = 101 }, "jpeg_quality:"},
		{"crop unknown", func(c *config.Config) { c.Crop = "smart" }, "crop:"},
		{"short key", func(c *config.Config) { c.Keys = []string{"short"} }, "keys:"},
		{"bad revocation", func(c *config.Config) { c.Revoked = []string{"nothex"} }, "revoked:"},
		{"request_timeout 0", func(c *config.Config) { c.RequestTimeout = 0 }, "request_timeout:"},
		{"no keys", func(c *config.Config) { c.Keys = nil }, "keys:"},
		{"queue_length negative", func(c *config.Config) { c.QueueLength = -1 }, "queue_length:"},
		{"index_workers negative", func(c *config.Config) { c.IndexWorkers = -1 }, "index_workers:"},
		{"max_file_mb negative", func(c *config.Config) { c.MaxFileMB = -1 }, "max_file_mb:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc := *c
			tc.mutate(&cc)
			err := cc.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v; want error containing %q", err, tc.want)
			}
		})
	}
	pub := *c
	pub.Keys, pub.Public = nil, true
	if err := pub.Validate(); err != nil {
		t.Errorf("public with no keys: %v", err)
	}
}

func TestParseLevel(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want slog.Level
		ok   bool
	}{
		{"debug", slog.LevelDebug, true},
		{"INFO", slog.LevelInfo, true},
		{"", slog.LevelInfo, true},
		{"warn", slog.LevelWarn, true},
		{"warning", slog.LevelWarn, true},
		{"error", slog.LevelError, true},
		{"trace", 0, false},
	} {
		got, err := config.ParseLevel(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestLogValueHidesKeys(t *testing.T) {
	cleanEnv(t)
	tmp := t.TempDir()
	t.Setenv("THUMBD_KEYS", key1+","+key2)
	c, err := config.Load(defaults(t), flags(t, "--originals", tmp), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Keys) != 2 {
		t.Fatalf("Keys = %d; want 2", len(c.Keys))
	}
	for _, tc := range []struct {
		name string
		v    any
	}{
		{"pointer", c},
		{"value", *c},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			log.Info("starting", "config", tc.v)
			out := buf.String()
			for _, k := range []string{key1, key2, "key-one", "key-two", "0123456789abcdef"} {
				if strings.Contains(out, k) {
					t.Fatalf("log output contains key material %q: %s", k, out)
				}
			}
			var rec struct {
				Config map[string]any `json:"config"`
			}
			if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
				t.Fatalf("log line is not JSON: %v: %s", err, out)
			}
			if rec.Config["keys"] != float64(2) {
				t.Errorf("config.keys = %v; want the count 2 (%s)", rec.Config["keys"], out)
			}
			if rec.Config["originals"] != tmp {
				t.Errorf("config.originals = %v; want %q", rec.Config["originals"], tmp)
			}
		})
	}
}

func FuzzLoad(f *testing.F) {
	cleanEnv(f)
	defs := defaults(f)
	for _, seed := range []string{
		"",
		"listen: 127.0.0.1:9000\n",
		"keys: [" + key1 + "]\npublic: true\n",
		"keys: \"a,b\"\n",
		"jpeg_quality: 101\n",
		"request_timeout: 0s\n",
		"max_size: tile_500\n",
		"max_size: fit_1920\ncrop: entropy\nbackground: '#102030'\n",
		"background: 123\n",
		"log_level: warning\n",
		"revoked: [0123456789abcdef0123456789abcdef01234567/tile_500]\n",
		"listen: [unclosed\n",
		"unknown: 1\n",
		"listen:\n  nested: 1\n",
		"keys: {a: b}\n",
		"? [a, b]\n: c\n",
		"&a [*a]\n",
		"request_timeout: 1e400\n",
		"workers: 99999999999999999999999\n",
		"keys: [1, 2.5, true, null]\n",
	} {
		f.Add([]byte(seed))
	}
	tmp := f.TempDir()
	// Inputs run one at a time in each fuzzing process, so one file will do.
	p := filepath.Join(tmp, "fuzz.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := config.Load(defs, flags(t, "--originals", tmp, "--config", p), []string{keyF})
		if err != nil {
			// The operator reads one line that starts with "config" and
			// names what is wrong; no YAML or decoder dump.
			msg := err.Error()
			if c != nil || strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, "config") || len(msg) > 600 {
				t.Fatalf("Load error is not one short line starting with config (config %v): %q", c != nil, msg)
			}
			return
		}
		// What Load accepts is parsed and in range: nothing downstream
		// checks again.
		if c.Signer == nil || c.Revocations == nil {
			t.Fatalf("accepted config without its signer or revocations")
		}
		if c.Revocations.Len() > len(c.Revoked) {
			t.Fatalf("%d revocations from %d entries", c.Revocations.Len(), len(c.Revoked))
		}
		for _, q := range []int{c.JPEGQuality, c.JPEGQualitySmall, c.WebPQuality, c.AVIFQuality} {
			if q < 1 || q > 100 {
				t.Fatalf("accepted quality %d", q)
			}
		}
		if c.RequestTimeout <= 0 || c.ShutdownTimeout <= 0 || c.Workers < 0 || c.QueueLength < 0 || c.CacheMB < 0 || c.MaxFrames < 1 {
			t.Fatalf("accepted out-of-range values: %+v", c)
		}
		if s, err := variant.ParseSize(c.MaxSize.String()); err != nil || s.Mode != variant.Fit {
			t.Fatalf("accepted max_size %q", c.MaxSize.String())
		}
		if _, err := variant.ParseCrop(string(c.Crop)); err != nil {
			t.Fatalf("accepted crop %q", c.Crop)
		}
		// Loading is deterministic: the same input gives the same config.
		again, err := config.Load(defs, flags(t, "--originals", tmp, "--config", p), []string{keyF})
		if err != nil || !reflect.DeepEqual(again.LogValue(), c.LogValue()) || again.MaxSize != c.MaxSize || again.Background != c.Background {
			t.Fatalf("second Load differs: %v", err)
		}
	})
}

// Revocations from the config file and THUMBD_REVOKED add up; neither
// source can un-revoke the other's entries.
func TestRevocationsFromEverySourceAddUp(t *testing.T) {
	cleanEnv(t)
	tmp := t.TempDir()
	h1, h2, h3 := strings.Repeat("1", 40), strings.Repeat("2", 40), strings.Repeat("3", 40)
	file := writeFile(t, tmp, "c.yaml", "revoked: ['"+h1+"', '"+h2+"/tile_500']\n")
	t.Setenv("THUMBD_REVOKED", h3+","+h1)
	c, err := config.Load(defaults(t), flags(t, "--originals", tmp, "--config", file), []string{keyF})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{h1, h2 + "/tile_500", h3}
	if !slices.Equal(c.Revoked, want) {
		t.Errorf("Revoked = %q; want %q", c.Revoked, want)
	}
	if c.RevokedFrom["file"] != 2 || c.RevokedFrom["env"] != 2 {
		t.Errorf("RevokedFrom = %v; want file 2, env 2", c.RevokedFrom)
	}
}

// A cache folder (or index file) reached through a symlink into the
// originals is inside the originals; so is a cache folder above them.
func TestWritablePathsResolveSymlinks(t *testing.T) {
	cleanEnv(t)
	tmp := t.TempDir()
	orig := filepath.Join(tmp, "photos")
	if err := os.MkdirAll(filepath.Join(orig, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(tmp, "cache-link")
	if err := os.Symlink(filepath.Join(orig, "sub"), link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, file, want string }{
		{"cache via symlink", "disk_cache_dir: " + link + "\n", "disk_cache_dir:"},
		{"new cache folder below a symlink", "disk_cache_dir: " + filepath.Join(link, "new", "deeper") + "\n", "disk_cache_dir:"},
		{"cache above originals", "disk_cache_dir: " + tmp + "\n", "disk_cache_dir:"},
		{"index file via symlink", "index_file: " + filepath.Join(link, "index.json") + "\n", "index_file:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cf := writeFile(t, t.TempDir(), "c.yaml", tc.file)
			_, err := config.Load(defaults(t), flags(t, "--originals", orig, "--config", cf), []string{keyF})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load error = %v; want one naming %s", err, tc.want)
			}
		})
	}
	// A cache folder beside the originals is fine.
	cf := writeFile(t, t.TempDir(), "c.yaml", "disk_cache_dir: "+filepath.Join(tmp, "cache")+"\n")
	if _, err := config.Load(defaults(t), flags(t, "--originals", orig, "--config", cf), []string{keyF}); err != nil {
		t.Fatal(err)
	}
}

func TestJobWorkers(t *testing.T) {
	cpus := config.CPUs()
	if cpus != runtime.GOMAXPROCS(0) {
		t.Fatalf("CPUs() = %d, want GOMAXPROCS %d", cpus, runtime.GOMAXPROCS(0))
	}
	for _, tc := range []struct {
		workers, want int
	}{
		{0, 2 * cpus}, // the default: two jobs per CPU
		{1, 1},
		{7, 7},
	} {
		c := config.Config{Workers: tc.workers}
		if got := c.JobWorkers(); got != tc.want {
			t.Errorf("workers %d: JobWorkers() = %d, want %d", tc.workers, got, tc.want)
		}
	}
	// GOMAXPROCS, not the machine's CPU count: the container's limit.
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	if got := (&config.Config{}).JobWorkers(); got != 2 {
		t.Errorf("GOMAXPROCS 1: JobWorkers() = %d, want 2", got)
	}
}
