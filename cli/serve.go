package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/spf13/pflag"
	"golang.org/x/net/netutil"

	"github.com/thumbd/thumbd/budget"
	"github.com/thumbd/thumbd/cache"
	"github.com/thumbd/thumbd/config"
	"github.com/thumbd/thumbd/picker"
	"github.com/thumbd/thumbd/server"
	"github.com/thumbd/thumbd/signing"
	"github.com/thumbd/thumbd/storage"
	"github.com/thumbd/thumbd/thumburl"
	"github.com/thumbd/thumbd/transform"
	"github.com/thumbd/thumbd/video"
)

// loadConfig parses flags and loads the config; --dev supplies the dev key
// when none is configured.
func loadConfig(env Env, fs *pflag.FlagSet, args []string) (*config.Config, bool, error) {
	config.Flags(fs)
	dev := fs.Bool("dev", false, "development mode: loopback only, a public dev key when none is set")
	if err := fs.Parse(args); err != nil {
		return nil, false, err
	}
	cfg, err := config.Load(env.Defaults, fs, devKeys(*dev))
	if err != nil {
		return nil, false, err
	}
	if *dev {
		// The dev key is public: neither listener may be reachable from
		// another machine (the admin one mints links through the picker).
		for _, l := range []struct{ key, addr string }{{"listen", cfg.Listen}, {"admin_listen", cfg.AdminListen}} {
			if l.addr == "" {
				continue
			}
			if err := loopbackOnly(l.addr); err != nil {
				return nil, false, fmt.Errorf("--dev: %s %s: %v; the dev key is public", l.key, l.addr, err)
			}
		}
	}
	return cfg, *dev, nil
}

// loopbackOnly accepts host:port addresses that only this machine can
// reach: localhost or a loopback IP (an empty host means every interface).
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return errors.New("not a loopback address")
}

// loadConfigNoKeys is loadConfig for commands that never sign or verify
// (index): a placeholder stands in when no key is configured.
func loadConfigNoKeys(env Env, fs *pflag.FlagSet, args []string) (*config.Config, bool, error) {
	config.Flags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, false, err
	}
	cfg, err := config.Load(env.Defaults, fs, []string{"unused-placeholder-key-for-index-only"})
	return cfg, false, err
}

// probe reads dimensions and the date taken at index time (for the link
// picker and manifests).
func probe(maxFrames int) storage.Probe {
	return func(head []byte) (int, int, time.Time) {
		info, err := transform.Probe(head, maxFrames)
		if err != nil {
			return 0, 0, time.Time{}
		}
		return info.Width, info.Height, info.Taken
	}
}

func devKeys(dev bool) []string {
	if dev {
		return []string{DevKey}
	}
	return nil
}

// logLevel is the running log level; SIGHUP and config file changes
// update it in place.
var logLevel = new(slog.LevelVar)

func newLogger(w *os.File, cfg *config.Config) *slog.Logger {
	level, _ := config.ParseLevel(cfg.LogLevel)
	logLevel.Set(level)
	opts := &slog.HandlerOptions{Level: logLevel}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func serve(ctx context.Context, env Env, args []string) error {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	examples := fs.Int("examples", 3, "in --dev mode, print signed example URLs for this many photos")
	cfg, dev, err := loadConfig(env, fs, args)
	if err != nil {
		return err
	}
	log := newLogger(os.Stderr, cfg)
	log.Info("thumbd starting", "version", version(), "libvips", transform.VipsVersion(), "config", cfg)
	log.Info("revocations", "total", len(cfg.Revoked), "from_defaults", cfg.RevokedFrom["defaults"],
		"from_file", cfg.RevokedFrom["file"], "from_env", cfg.RevokedFrom["env"])
	if dev {
		log.Warn("development mode: links are signed with the public dev key; do not deploy")
	}

	workers := cfg.Workers
	if workers == 0 {
		workers = runtime.NumCPU()
	}
	transform.Startup(cfg.VipsConcurrency, log)
	var missing []string
	for name, ok := range transform.Loaders() {
		if !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		log.Warn("libvips cannot read these formats; such files answer 415", "formats", missing)
	}
	if !video.HaveFFmpeg() {
		log.Warn("ffmpeg not installed: videos stream, but their image sizes (posters) answer 415")
	}

	ix, err := storage.Open(cfg.Originals, int64(cfg.MaxFileMB)<<20, log)
	if err != nil {
		return fmt.Errorf("config: originals: %w", err)
	}
	defer ix.Close()
	ix.Probe = probe(cfg.MaxFrames)

	srv, signer, err := newServer(cfg, ix, workers, log)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// The admin listener comes up before the scan: /healthz answers while a
	// large library is hashed, /readyz only once it is loaded.
	if cfg.AdminListen != "" {
		stopAdmin, err := startAdmin(cfg, srv, ix, log)
		if err != nil {
			return err
		}
		defer stopAdmin()
	}

	if cfg.IndexFile != "" {
		if n, err := ix.LoadIndexFile(cfg.IndexFile); err != nil {
			log.Warn("index file unusable; hashing everything", "err", err)
		} else {
			log.Info("index file loaded", "entries", n)
		}
	}
	st, err := ix.Scan(ctx, cfg.IndexWorkers)
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	log.Info("index ready", "files", st.Files, "bytes", st.Bytes, "hashed", st.Hashed, "reused", st.Reused, "skipped", st.Skipped,
		"too_large", st.TooLarge, "seconds", st.Duration.Seconds())
	saveIndex := func() {
		if cfg.IndexFile == "" {
			return
		}
		if err := ix.SaveIndexFile(cfg.IndexFile); err != nil {
			log.Warn("index file not written", "err", err)
		}
	}
	saveIndex()
	go ix.Watch(ctx, cfg.RescanInterval, cfg.Inotify, cfg.IndexWorkers, func(st storage.Stats, err error) {
		if err != nil {
			log.Warn("rescan failed; keeping the previous index", "err", err)
			return
		}
		log.Info("rescan", "files", st.Files, "hashed", st.Hashed, "reused", st.Reused, "seconds", st.Duration.Seconds())
		saveIndex()
	})

	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("config: listen: %w", err)
	}
	srv.SetReady(true)
	log.Info("listening", "addr", l.Addr().String())
	if dev {
		printExamples(env, ix, signer, "http://"+l.Addr().String(), *examples)
	}

	go reload(ctx, env, args, cfg.File, srv, log)
	err = srv.Serve(ctx, l, cfg.ShutdownTimeout)
	log.Info("thumbd stopped", "err", err)
	return err
}

// reload re-reads the config on SIGHUP, and whenever the --config file
// changes on disk, and swaps keys and revocations in place; a bad config is
// logged and the running one kept. No restart, no dropped requests.
func reload(ctx context.Context, env Env, args []string, file string, srv *server.Server, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	changed := watchFile(ctx, file, log)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		case <-changed:
		}
		fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		fs.Int("examples", 0, "")
		cfg, _, err := loadConfig(env, fs, args)
		if err == nil {
			err = apply(cfg, srv)
		}
		if err != nil {
			log.Error("config reload failed; keeping the running config", "err", err)
			continue
		}
		log.Warn("config reloaded", "keys", len(cfg.Keys), "public", cfg.Public, "revoked", len(cfg.Revoked),
			"revoked_from_file", cfg.RevokedFrom["file"], "revoked_from_env", cfg.RevokedFrom["env"], "log_level", cfg.LogLevel)
	}
}

// apply installs the reloadable parts of cfg: keys, revocations and the
// log level.
func apply(cfg *config.Config, srv *server.Server) error {
	sg, rv, err := policy(cfg)
	if err != nil {
		return err
	}
	srv.SetSigner(sg)
	srv.SetRevocations(rv)
	level, _ := config.ParseLevel(cfg.LogLevel)
	logLevel.Set(level)
	return nil
}

// policy is the reloadable access policy in cfg: the keys and the revoked
// links. Start-up and reloads build it the same way.
func policy(cfg *config.Config) (*signing.Signer, *server.Revocations, error) {
	sg, err := signing.New(cfg.Keys, cfg.Public)
	if err != nil {
		return nil, nil, err
	}
	rv, err := server.ParseRevocations(cfg.Revoked)
	if err != nil {
		return nil, nil, err
	}
	return sg, rv, nil
}

// watchFile signals after file changes. It watches the folder, not the
// file, so editors' rename-into-place and Kubernetes ConfigMap symlink
// swaps are seen too; bursts of events are coalesced.
func watchFile(ctx context.Context, file string, log *slog.Logger) <-chan struct{} {
	out := make(chan struct{}, 1)
	if file == "" {
		return out
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		log.Warn("config file watch unavailable; use SIGHUP", "err", err)
		return out
	}
	abs, _ := filepath.Abs(file)
	if err := w.Add(filepath.Dir(abs)); err != nil {
		log.Warn("config file watch unavailable; use SIGHUP", "err", err)
		w.Close()
		return out
	}
	go func() {
		defer w.Close()
		var debounce <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if filepath.Base(ev.Name) == filepath.Base(abs) || filepath.Base(ev.Name) == "..data" {
					debounce = time.After(200 * time.Millisecond)
				}
			case <-w.Errors:
			case <-debounce:
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	}()
	return out
}

func printExamples(env Env, ix *storage.Index, signer *signing.Signer, base string, n int) {
	all := ix.All()
	fmt.Fprintf(env.Stdout, "\nthumbd is serving %d photos from %s on %s\nExample URLs (signed with the dev key):\n", len(all), ix.Dir(), base)
	for i, o := range all {
		if i >= n {
			break
		}
		fmt.Fprintf(env.Stdout, "  %s\n", o.Path)
		for _, size := range []string{"tile_500", "fit_1920", "colors"} {
			tok, _ := signer.Sign(o.Hash, size, time.Time{})
			fmt.Fprintf(env.Stdout, "    %s%s\n", base, thumburl.Path(o.Hash, tok, size))
		}
	}
	fmt.Fprintf(env.Stdout, "Mint more: go run . sign --dev --size tile_500 PATH\n\n")
}

// newServer builds the HTTP server from the config: keys, revocations,
// result caches and the transform settings.
func newServer(cfg *config.Config, ix *storage.Index, workers int, log *slog.Logger) (*server.Server, *signing.Signer, error) {
	signer, revoked, err := policy(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	caches := server.Caches{Memory: cache.NewMemory(int64(cfg.CacheMB) << 20), Derive: cfg.Derive}
	if cfg.DiskCacheDir != "" {
		caches.Disk = cache.OpenDisk(cfg.DiskCacheDir, int64(cfg.DiskCacheMB)<<20, log)
	}
	if cfg.PhotoPrismCache != "" {
		if caches.PhotoPrism, err = cache.OpenPhotoPrism(cfg.PhotoPrismCache); err != nil {
			return nil, nil, fmt.Errorf("config: photoprism_cache_dir: %w", err)
		}
	}
	limit, err := transform.NewLimit(cfg.MaxSize)
	if err != nil {
		return nil, nil, fmt.Errorf("config: max_size: %w", err)
	}
	crop, err := transform.ParseCrop(cfg.Crop)
	if err != nil {
		return nil, nil, fmt.Errorf("config: crop: %w", err)
	}
	background, err := transform.ParseColor(cfg.Background)
	if err != nil {
		return nil, nil, fmt.Errorf("config: background: %w", err)
	}
	decode := budget.New(int64(cfg.MaxDecodeMB) << 20)
	topts := transform.Options{JPEGQuality: cfg.JPEGQuality, JPEGQualitySmall: cfg.JPEGQualitySmall, MaxMegapixels: cfg.MaxMegapixels, Crop: crop,
		Background: background, WebPQuality: cfg.WebPQuality, WebPEffort: cfg.WebPEffort, AVIFQuality: cfg.AVIFQuality, AVIFEffort: cfg.AVIFEffort,
		MaxFrames: cfg.MaxFrames, Budget: decode}
	srv := server.New(ix, signer, transform.New(topts), server.Options{
		Workers:        workers,
		QueueLength:    cfg.QueueLength,
		RequestTimeout: cfg.RequestTimeout,
		MaxSize:        limit,
		Fingerprint:    topts.Fingerprint() + fmt.Sprintf("-d%t", cfg.Derive),
		Caches:         caches,
		CustomMax:      cfg.CustomMax,
		Negotiate:      cfg.Negotiate,
		FailureTTL:     cfg.FailureTTL,
		ReadTimeout:    cfg.ReadTimeout,
		WriteTimeout:   cfg.WriteTimeout,
		IdleTimeout:    cfg.IdleTimeout,
		MaxConnections: maxConnections(cfg.MaxConnections, log),
		Poster:         video.Limits{MemoryBytes: int64(cfg.FFmpegMemoryMB) << 20},
		PosterReserve:  int64(config.FFmpegReserveMB(cfg.FFmpegMemoryMB, cfg.MaxDecodeMB)) << 20,
		Budget:         decode,
	}, log)
	srv.SetRevocations(revoked)
	return srv, signer, nil
}

// startAdmin serves metrics, probes, pprof and the link picker on
// admin_listen; the returned func stops it.
func startAdmin(cfg *config.Config, srv *server.Server, ix *storage.Index, log *slog.Logger) (func(), error) {
	al, err := net.Listen("tcp", cfg.AdminListen)
	if err != nil {
		return nil, fmt.Errorf("config: admin_listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", srv.AdminHandler(cfg.Pprof))
	if cfg.LinksPage {
		public := cfg.PublicURL
		if public == "" {
			public = "http://" + cfg.Listen
		}
		mux.Handle("/links/", picker.New(ix, picker.Options{
			PublicURL: strings.TrimRight(public, "/"),
			Signer:    srv.Signer,
			User:      cfg.LinksUser,
			Password:  cfg.LinksPassword,
		}))
	}
	admin := &http.Server{
		Handler:           server.AdminGuard(mux, cfg.AdminHosts),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       cfg.ReadTimeout,
		// pprof's CPU profile runs 30 s by default; leave it room.
		WriteTimeout: max(cfg.WriteTimeout, 2*time.Minute),
		IdleTimeout:  cfg.IdleTimeout,
	}
	// A few connections are plenty for probes, Prometheus and one person
	// at the picker; the bound keeps a flood here from taking descriptors
	// the public port needs, and the other way round (see maxConnections).
	go func() { _ = admin.Serve(netutil.LimitListener(al, adminConnections)) }()
	log.Info("admin listening", "addr", al.Addr().String(), "pprof", cfg.Pprof)
	return func() { admin.Close() }, nil
}

// adminConnections bounds the admin listener.
const adminConnections = 64

// maxConnections is the public listener's bound: configured, or the
// open-file limit minus a reserve for the admin listener, originals,
// the disk cache, ffmpeg's pipes and the index, so a flood of connections
// never leaves the probes without a descriptor.
func maxConnections(configured int, log *slog.Logger) int {
	if configured > 0 {
		return configured
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 {
		return 0
	}
	limit := int64(rl.Cur)
	if limit > 1<<20 {
		limit = 1 << 20
	}
	reserve := max(adminConnections+64, limit/8)
	n := int(limit - reserve)
	if n < 16 {
		log.Warn("open-file limit is very low; raise it (ulimit -n)", "limit", limit)
		n = 16
	}
	return n
}
