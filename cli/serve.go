package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/spf13/pflag"
	"golang.org/x/net/netutil"

	"github.com/thumbd/thumbd/accesslog"
	"github.com/thumbd/thumbd/app"
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

func devKeys(dev bool) []string {
	if dev {
		return []string{DevKey}
	}
	return nil
}

// newLogger builds the process logger; the returned level is the running
// one, which reloads change in place.
func newLogger(w io.Writer, cfg *config.Config) (*slog.Logger, *slog.LevelVar) {
	level := new(slog.LevelVar)
	level.Set(cfg.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts)), level
	}
	return slog.New(slog.NewJSONHandler(w, opts)), level
}

func serve(ctx context.Context, env Env, args []string) error {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	examples := fs.Int("examples", 3, "in --dev mode, print signed example URLs for this many photos")
	cfg, dev, err := loadConfig(env, fs, args)
	if err != nil {
		return err
	}
	// Log lines go through a buffer that never blocks a request; a stalled
	// stderr pipe drops (and counts) lines instead of stalling the server.
	logw := accesslog.New(os.Stderr, accesslog.Options{})
	defer logw.Close()
	log, level := newLogger(logw, cfg)
	log.Info("thumbd starting", "version", version(), "libvips", transform.VipsVersion(), "libheif", transform.HeifVersion(), "config", cfg)
	log.Info("revocations", "total", len(cfg.Revoked), "from_defaults", cfg.RevokedFrom["defaults"],
		"from_file", cfg.RevokedFrom["file"], "from_env", cfg.RevokedFrom["env"])
	if dev {
		log.Warn("development mode: links are signed with the public dev key; do not deploy")
	}

	a, err := app.New(cfg, log, app.Options{})
	if err != nil {
		return err
	}
	defer a.Close()
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
	ix := a.Index
	srv, err := a.Server(logw)
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

	transform.MallocForScan()
	st, err := a.Scan(ctx)
	if err != nil {
		return err
	}
	log.Info("index ready", "files", st.Files, "bytes", st.Bytes, "hashed", st.Hashed, "reused", st.Reused, "skipped", st.Skipped,
		"too_large", st.TooLarge, "seconds", st.Duration.Seconds())
	saveIndex := func(st storage.Stats) {
		if cfg.IndexFile == "" || !st.Changed {
			// Unchanged: the file on disk already says all this (a restart
			// over 100k files would spend a third of its time rewriting it).
			return
		}
		if err := ix.SaveIndexFile(cfg.IndexFile); err != nil {
			log.Warn("index file not written", "err", err)
		}
	}
	saveIndex(st)
	transform.ReleaseMemory()
	transform.MallocForServe()
	rendered := prerender(ctx, cfg, srv, log)
	go ix.Watch(ctx, cfg.RescanInterval, cfg.Inotify, cfg.IndexWorkers, func(st storage.Stats, err error) {
		if err != nil {
			log.Warn("rescan failed; keeping the previous index", "err", err)
			return
		}
		log.Info("rescan", "files", st.Files, "hashed", st.Hashed, "reused", st.Reused, "seconds", st.Duration.Seconds())
		saveIndex(st)
		if st.Hashed > 0 {
			transform.ReleaseMemory()
			rendered()
		}
	})

	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("config: listen: %w", err)
	}
	srv.SetReady(true)
	log.Info("listening", "addr", l.Addr().String())
	if dev {
		printExamples(env, ix, cfg.Signer, "http://"+l.Addr().String(), *examples)
	}

	go reload(ctx, env, args, cfg.File, srv, log, level)
	err = srv.Serve(ctx, l, cfg.ShutdownTimeout)
	log.Info("thumbd stopped", "err", err)
	return err
}

// reload re-reads the config on SIGHUP, and whenever the --config file
// changes on disk, and swaps keys and revocations in place; a bad config is
// logged and the running one kept. No restart, no dropped requests.
func reload(ctx context.Context, env Env, args []string, file string, srv *server.Server, log *slog.Logger, level *slog.LevelVar) {
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
		if err != nil {
			log.Error("config reload failed; keeping the running config", "err", err)
			continue
		}
		// Keys, revocations and the log level; everything else needs a
		// restart (it sizes caches, pools and listeners).
		srv.SetSigner(cfg.Signer)
		srv.SetRevocations(cfg.Revocations)
		level.Set(cfg.LogLevel)
		log.Warn("config reloaded", "keys", len(cfg.Keys), "public", cfg.Public, "revoked", len(cfg.Revoked),
			"revoked_from_file", cfg.RevokedFrom["file"], "revoked_from_env", cfg.RevokedFrom["env"], "log_level", cfg.LogLevel)
	}
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
	// the public port needs, and the other way round (see app.MaxConnections).
	go func() { _ = admin.Serve(netutil.LimitListener(al, app.AdminConnections)) }()
	log.Info("admin listening", "addr", al.Addr().String(), "pprof", cfg.Pprof)
	return func() { admin.Close() }, nil
}
