// Package config loads thumbd's settings with Viper. Precedence: flags >
// environment (THUMBD_*) > config file > the embedded config.yaml.
// Validation names the key and the problem in one line.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/thumbd/thumbd/signing"
	"github.com/thumbd/thumbd/thumburl"
	"github.com/thumbd/thumbd/variant"
)

// Config is the validated settings.
type Config struct {
	Listen           string        `mapstructure:"listen"`
	AdminListen      string        `mapstructure:"admin_listen"`
	Pprof            bool          `mapstructure:"pprof"`
	Originals        string        `mapstructure:"originals"`
	Keys             []string      `mapstructure:"keys"`
	Public           bool          `mapstructure:"public"`
	Revoked          []string      `mapstructure:"revoked"`
	JPEGQuality      int           `mapstructure:"jpeg_quality"`
	JPEGQualitySmall int           `mapstructure:"jpeg_quality_small"`
	WebPQuality      int           `mapstructure:"webp_quality"`
	WebPEffort       int           `mapstructure:"webp_effort"`
	AVIFQuality      int           `mapstructure:"avif_quality"`
	AVIFEffort       int           `mapstructure:"avif_effort"`
	HEIFThumbnails   bool          `mapstructure:"heif_thumbnails"`
	MaxSize          variant.Limit `mapstructure:"max_size"`
	CustomMax        int           `mapstructure:"custom_max"`
	Crop             variant.Crop  `mapstructure:"crop"`
	Background       variant.Color `mapstructure:"background"`
	Negotiate        bool          `mapstructure:"negotiate"`
	PublicURL        string        `mapstructure:"public_url"`
	PagesNoindex     bool          `mapstructure:"pages_noindex"`
	LinksPage        bool          `mapstructure:"links_page"`
	LinksUser        string        `mapstructure:"links_user"`
	LinksPassword    string        `mapstructure:"links_password"`
	MaxMegapixels    int           `mapstructure:"max_megapixels"`
	MaxFileMB        int           `mapstructure:"max_file_mb"`
	Workers          int           `mapstructure:"workers"`
	QueueLength      int           `mapstructure:"queue_length"`
	RequestTimeout   time.Duration `mapstructure:"request_timeout"`
	IndexWorkers     int           `mapstructure:"index_workers"`
	IndexFile        string        `mapstructure:"index_file"`
	RescanInterval   time.Duration `mapstructure:"rescan_interval"`
	Inotify          bool          `mapstructure:"inotify"`
	VipsConcurrency  int           `mapstructure:"vips_concurrency"`
	LogLevel         slog.Level    `mapstructure:"log_level"`
	LogFormat        string        `mapstructure:"log_format"`
	ShutdownTimeout  time.Duration `mapstructure:"shutdown_timeout"`
	CacheMB          int           `mapstructure:"cache_mb"`
	DiskCacheDir     string        `mapstructure:"disk_cache_dir"`
	DiskCacheMB      int           `mapstructure:"disk_cache_mb"`
	PhotoPrismCache  string        `mapstructure:"photoprism_cache_dir"`
	Derive           bool          `mapstructure:"derive"`
	MaxDecodeMB      int           `mapstructure:"max_decode_mb"`
	MaxFrames        int           `mapstructure:"max_frames"`
	FailureTTL       time.Duration `mapstructure:"failure_ttl"`
	FFmpegMemoryMB   int           `mapstructure:"ffmpeg_memory_mb"`
	ReadTimeout      time.Duration `mapstructure:"read_timeout"`
	WriteTimeout     time.Duration `mapstructure:"write_timeout"`
	IdleTimeout      time.Duration `mapstructure:"idle_timeout"`
	MaxConnections   int           `mapstructure:"max_connections"`
	AdminHosts       []string      `mapstructure:"admin_hosts"`
	Placeholders     bool          `mapstructure:"placeholders"`
	Prerender        []string      `mapstructure:"prerender"`
	PrerenderWorkers int           `mapstructure:"prerender_workers"`

	// Parsed by Load from keys, public and revoked: the access policy, the
	// one part of the config a reload swaps while serving.
	Signer      *signing.Signer       `mapstructure:"-"`
	Revocations *thumburl.Revocations `mapstructure:"-"`

	// File is the config file merged over the defaults, if any.
	File string `mapstructure:"-"`
	// RevokedFrom counts the revocations each source contributed
	// ("defaults", "file", "env"); Revoked is their union.
	RevokedFrom map[string]int `mapstructure:"-"`
}

// LogValue keeps secrets out of logs: only the number of keys is shown.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("listen", c.Listen),
		slog.String("admin_listen", c.AdminListen),
		slog.String("originals", c.Originals),
		slog.Int("keys", len(c.Keys)),
		slog.Bool("public", c.Public),
		slog.Int("revoked", len(c.Revoked)),
		slog.Any("revoked_from", c.RevokedFrom),
		slog.Int("max_decode_mb", c.MaxDecodeMB),
		slog.Int("max_frames", c.MaxFrames),
		slog.String("max_size", c.MaxSize.String()),
		slog.Int("workers", c.Workers),
		slog.Int("queue_length", c.QueueLength),
		slog.Duration("request_timeout", c.RequestTimeout),
		slog.Int("cache_mb", c.CacheMB),
		slog.String("disk_cache_dir", c.DiskCacheDir),
		slog.String("photoprism_cache_dir", c.PhotoPrismCache),
		slog.Bool("derive", c.Derive),
		slog.Bool("links_page", c.LinksPage),
		slog.Bool("links_auth", c.LinksUser != ""),
		slog.String("index_file", c.IndexFile),
		slog.Duration("rescan_interval", c.RescanInterval),
		slog.Bool("inotify", c.Inotify),
		slog.Any("prerender", c.Prerender),
		slog.String("file", c.File),
	)
}

// Flags declares the command-line flags that override config keys. Only
// flags the user actually set take effect.
func Flags(fs *pflag.FlagSet) {
	fs.String("config", "", "config file (YAML) merged over the built-in defaults")
	fs.String("listen", "", "address to serve on (key: listen)")
	fs.String("admin-listen", "", "metrics/health address, empty = off (key: admin_listen)")
	fs.String("originals", "", "originals folder, opened read-only (key: originals)")
	fs.StringSlice("keys", nil, "signing keys, comma-separated; first signs (key: keys)")
	fs.Bool("public", false, "also accept the token 'public' (key: public)")
	fs.String("log-level", "", "debug, info, warn or error (key: log_level)")
}

var flagKeys = map[string]string{
	"listen": "listen", "admin-listen": "admin_listen", "originals": "originals", "keys": "keys",
	"public": "public", "log-level": "log_level",
}

// Load builds the config from the embedded defaults, the --config file (or
// THUMBD_CONFIG), the environment and the flags, then validates it.
// fallbackKeys are used when no source sets any key (development mode).
func Load(defaults []byte, fs *pflag.FlagSet, fallbackKeys []string) (*Config, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(defaults)); err != nil {
		return nil, fmt.Errorf("built-in config.yaml: %w", err)
	}
	known := map[string]bool{}
	for _, k := range v.AllKeys() {
		known[k] = true
	}

	// Revocations add up across sources: an environment variable must
	// never silently un-revoke what the config file revokes.
	revFrom := map[string][]string{"defaults": splitKeys(v.Get("revoked"))}
	revFrom["env"] = splitKeys(os.Getenv("THUMBD_REVOKED"))

	file := os.Getenv("THUMBD_CONFIG")
	if fs != nil {
		if f, _ := fs.GetString("config"); f != "" {
			file = f
		}
	}
	if file != "" {
		raw, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		fv := viper.New()
		fv.SetConfigType("yaml")
		if err := fv.ReadConfig(bytes.NewReader(raw)); err != nil {
			return nil, fmt.Errorf("config %s: not valid YAML: %s", file, oneLine(err.Error()))
		}
		var unknown []string
		for _, k := range fv.AllKeys() {
			if !known[k] {
				unknown = append(unknown, k)
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return nil, fmt.Errorf("config %s: unknown key %q", file, unknown[0])
		}
		revFrom["file"] = splitKeys(fv.Get("revoked"))
		if err := v.MergeConfigMap(fv.AllSettings()); err != nil {
			return nil, fmt.Errorf("config %s: %w", file, err)
		}
	}

	v.SetEnvPrefix("THUMBD")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()

	if fs != nil {
		for flag, key := range flagKeys {
			if f := fs.Lookup(flag); f != nil && f.Changed {
				if err := v.BindPFlag(key, f); err != nil {
					return nil, err
				}
			}
		}
	}

	c := &Config{File: file}
	if err := v.Unmarshal(c, viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		levelHook, mapstructure.TextUnmarshallerHookFunc(),
		mapstructure.StringToTimeDurationHookFunc(), mapstructure.StringToSliceHookFunc(",")))); err != nil {
		return nil, decodeError(err)
	}
	// THUMBD_KEYS="a,b" arrives as one string; split it on commas.
	c.Keys = splitKeys(v.Get("keys"))
	c.AdminHosts = splitKeys(v.Get("admin_hosts"))
	c.Prerender = splitKeys(v.Get("prerender"))
	c.Revoked, c.RevokedFrom = unionRevoked(revFrom)
	if len(c.Keys) == 0 {
		c.Keys = fallbackKeys
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// levelHook decodes log_level with ParseLevel (slog's own parser knows
// neither "warning" nor an empty value).
func levelHook(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeFor[slog.Level]() || from.Kind() != reflect.String {
		return data, nil
	}
	return ParseLevel(data.(string))
}

// oneLine folds a multi-line parser message ("unmarshal errors:\n  line
// 1: ...") into one line for the start-up error.
func oneLine(msg string) string {
	return strings.Join(strings.Fields(msg), " ")
}

// decodeError turns a type error (a list over several lines from
// mapstructure) into one line naming the first key.
func decodeError(err error) error {
	var de *mapstructure.DecodeError
	if errors.As(err, &de) {
		msg := de.Error()
		if u := de.Unwrap(); u != nil {
			msg = u.Error()
		}
		msg, _, _ = strings.Cut(msg, "\n")
		return fmt.Errorf("config: %s: %s", de.Name(), msg)
	}
	msg, _, _ := strings.Cut(strings.TrimSpace(err.Error()), "\n")
	return fmt.Errorf("config: %s", msg)
}

// unionRevoked merges the revocations of every source, in a stable order
// without duplicates, and counts what each source brought.
func unionRevoked(from map[string][]string) ([]string, map[string]int) {
	var out []string
	seen := map[string]bool{}
	counts := map[string]int{}
	for _, src := range []string{"defaults", "file", "env"} {
		for _, e := range from[src] {
			counts[src]++
			if !seen[e] {
				seen[e] = true
				out = append(out, e)
			}
		}
	}
	return out, counts
}

func splitKeys(raw any) []string {
	var parts []string
	switch x := raw.(type) {
	case string:
		parts = strings.Split(x, ",")
	case []string:
		for _, s := range x {
			parts = append(parts, strings.Split(s, ",")...)
		}
	case []any:
		for _, s := range x {
			parts = append(parts, strings.Split(fmt.Sprint(s), ",")...)
		}
	}
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Validate checks every key and reports the first problem, naming the key.
func (c *Config) Validate() error {
	bad := func(key, format string, a ...any) error {
		return fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, a...))
	}
	if c.Listen == "" {
		return bad("listen", "empty; want host:port such as 127.0.0.1:8080")
	}
	if c.AdminListen != "" && c.AdminListen == c.Listen {
		return bad("admin_listen", "same address as listen; metrics must not be on the public port")
	}
	if (c.LinksUser == "") != (c.LinksPassword == "") {
		return bad("links_user", "set both links_user and links_password, or neither")
	}
	if c.PublicURL != "" && !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		return bad("public_url", "%q; want an http:// or https:// URL", c.PublicURL)
	}
	if c.Originals == "" {
		return bad("originals", "empty; want the folder holding the photos")
	}
	if fi, err := os.Stat(c.Originals); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return bad("originals", "folder %q does not exist", c.Originals)
		}
		return bad("originals", "%v", err)
	} else if !fi.IsDir() {
		return bad("originals", "%q is not a folder", c.Originals)
	}
	if len(c.Keys) == 0 && !c.Public {
		return bad("keys", "empty; set at least one key of %d+ bytes (THUMBD_KEYS, or `openssl rand -base64 32`), or public: true", signing.MinKeyLen)
	}
	for i, k := range c.Keys {
		if len(k) < signing.MinKeyLen {
			return bad("keys", "key #%d is %d bytes; need at least %d", i+1, len(k), signing.MinKeyLen)
		}
	}
	sg, err := signing.New(c.Keys, c.Public)
	if err != nil {
		return bad("keys", "%v", err)
	}
	rv, err := thumburl.ParseRevocations(c.Revoked)
	if err != nil {
		return bad("revoked", "%v", err)
	}
	c.Signer, c.Revocations = sg, rv
	for _, q := range []struct {
		key string
		v   int
	}{{"jpeg_quality", c.JPEGQuality}, {"jpeg_quality_small", c.JPEGQualitySmall}, {"webp_quality", c.WebPQuality}, {"avif_quality", c.AVIFQuality}} {
		if q.v < 1 || q.v > 100 {
			return bad(q.key, "%d is outside 1..100", q.v)
		}
	}
	if c.WebPEffort < 0 || c.WebPEffort > 6 {
		return bad("webp_effort", "%d is outside 0..6", c.WebPEffort)
	}
	if c.AVIFEffort < 0 || c.AVIFEffort > 9 {
		return bad("avif_effort", "%d is outside 0..9", c.AVIFEffort)
	}
	if c.CustomMax < 0 || c.CustomMax > variant.MaxCustomEdge {
		return bad("custom_max", "%d is outside 0..%d", c.CustomMax, variant.MaxCustomEdge)
	}
	if _, err := variant.ParseCrop(string(c.Crop)); err != nil {
		return bad("crop", "%v", err)
	}
	if c.MaxMegapixels < 0 {
		return bad("max_megapixels", "%d is negative", c.MaxMegapixels)
	}
	if c.MaxFileMB < 0 {
		return bad("max_file_mb", "%d is negative", c.MaxFileMB)
	}
	if c.Workers < 0 {
		return bad("workers", "%d is negative (0 means two per CPU)", c.Workers)
	}
	if c.QueueLength < 0 {
		return bad("queue_length", "%d is negative", c.QueueLength)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"request_timeout", c.RequestTimeout}, {"shutdown_timeout", c.ShutdownTimeout},
		{"read_timeout", c.ReadTimeout}, {"write_timeout", c.WriteTimeout}, {"idle_timeout", c.IdleTimeout}} {
		if d.v <= 0 {
			return bad(d.key, "%v; want a positive duration such as 30s", d.v)
		}
	}
	if c.CacheMB < 0 {
		return bad("cache_mb", "%d is negative (0 turns the memory cache off)", c.CacheMB)
	}
	if c.DiskCacheDir != "" && c.DiskCacheMB <= 0 {
		return bad("disk_cache_mb", "%d; want a positive size when disk_cache_dir is set", c.DiskCacheMB)
	}
	if c.DiskCacheDir != "" && Within(c.DiskCacheDir, c.Originals) {
		return bad("disk_cache_dir", "%q is inside the originals folder (symlinks resolved), which thumbd never writes", c.DiskCacheDir)
	}
	if c.DiskCacheDir != "" && Within(c.Originals, c.DiskCacheDir) {
		return bad("disk_cache_dir", "%q holds the originals folder; the cache would evict photos and index itself", c.DiskCacheDir)
	}
	if c.PhotoPrismCache != "" {
		if fi, err := os.Stat(c.PhotoPrismCache); err != nil || !fi.IsDir() {
			return bad("photoprism_cache_dir", "%q is not a readable folder", c.PhotoPrismCache)
		}
	}
	if c.IndexFile != "" {
		if Within(c.IndexFile, c.Originals) {
			return bad("index_file", "%q is inside the originals folder (symlinks resolved), which thumbd never writes", c.IndexFile)
		}
		if fi, err := os.Stat(filepath.Dir(c.IndexFile)); err != nil || !fi.IsDir() {
			return bad("index_file", "folder of %q does not exist", c.IndexFile)
		}
	}
	if c.RescanInterval < 0 || (c.RescanInterval > 0 && c.RescanInterval < time.Second) {
		return bad("rescan_interval", "%v; want 0 (off) or at least 1s", c.RescanInterval)
	}
	if c.IndexWorkers < 0 {
		return bad("index_workers", "%d is negative (0 means one per CPU)", c.IndexWorkers)
	}
	if c.VipsConcurrency < 1 {
		return bad("vips_concurrency", "%d; want 1 or more", c.VipsConcurrency)
	}
	if c.MaxDecodeMB < 16 {
		return bad("max_decode_mb", "%d; want at least 16 (MiB of decoded pixels across all jobs; size it for the container's memory limit)", c.MaxDecodeMB)
	}
	if c.MaxFrames < 1 {
		return bad("max_frames", "%d; want 1 or more", c.MaxFrames)
	}
	if c.FailureTTL < 0 {
		return bad("failure_ttl", "%v is negative (0 turns the failure cache off)", c.FailureTTL)
	}
	if c.FFmpegMemoryMB < 320 {
		return bad("ffmpeg_memory_mb", "%d; want at least 320 (ffmpeg alone maps about 270 MiB)", c.FFmpegMemoryMB)
	}
	if c.MaxConnections < 0 {
		return bad("max_connections", "%d is negative (0 derives it from the open-file limit)", c.MaxConnections)
	}
	for i, h := range c.AdminHosts {
		if strings.ContainsAny(h, "/ *") {
			return bad("admin_hosts", "entry #%d %q; want a host name such as thumbd-admin.internal", i+1, h)
		}
	}
	for _, sz := range c.Prerender {
		s, _, _, err := thumburl.ParseSizeSegment(sz)
		if err != nil || s.Mode == variant.Original {
			return bad("prerender", "%q; want sizes such as tile_224 or fit_720.webp (not original)", sz)
		}
	}
	if len(c.Prerender) > 0 && c.DiskCacheDir == "" {
		return bad("prerender", "needs disk_cache_dir: pre-rendered sizes are kept in the disk cache")
	}
	if c.PrerenderWorkers < 1 {
		return bad("prerender_workers", "%d; want 1 or more", c.PrerenderWorkers)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return bad("log_format", "%q; want json or text", c.LogFormat)
	}
	return nil
}

// FFmpegReserveMB is what one ffmpeg run reserves from the decode budget:
// two thirds of its address-space limit, about its measured peak resident
// memory (address space includes libraries and unused mappings).
// It never exceeds the whole budget (a small budget then runs one poster at
// a time, with nothing else decoding).
func FFmpegReserveMB(limitMB, budgetMB int) int { return min(limitMB*2/3, budgetMB) }

// Within reports whether dir is root or below it, after resolving
// symlinks in both: a cache folder that is a symlink into the library is
// inside the library.
func Within(dir, root string) bool {
	d, err1 := resolve(dir)
	r, err2 := resolve(root)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(r, d)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// resolve makes p absolute and resolves symlinks in the part of it that
// exists; the rest (a folder thumbd will create) is appended as written.
func resolve(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	var rest []string
	for cur := abs; ; {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(append([]string{r}, rest...)...), nil
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return abs, nil
		}
		rest = append([]string{filepath.Base(cur)}, rest...)
		cur = parent
	}
}

// ParseLevel maps a log_level value to a slog level.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%q; want debug, info, warn or error", s)
}

// CPUs is how many CPUs thumbd may use: GOMAXPROCS, which follows a
// container's CPU limit (a pod limited to 2 CPUs on a 64-core node gets 2),
// where runtime.NumCPU would count the node's.
func CPUs() int { return runtime.GOMAXPROCS(0) }

// JobWorkers is how many libvips jobs run at once: the workers key, or two
// per CPU. Each job runs one libvips thread (vips_concurrency 1), and between
// jobs a worker reads the original and writes the answer, so one job per CPU
// left cores idle in the fastest cells of the bench (1.83-1.93 cores busy at
// 4 clients); imgproxy runs two per CPU for the same reason. The decode
// budget (max_decode_mb), not the worker count, bounds memory.
func (c *Config) JobWorkers() int {
	if c.Workers > 0 {
		return c.Workers
	}
	return 2 * CPUs()
}
