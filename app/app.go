// Package app builds thumbd's parts from a loaded config, one way for every
// command (serve, index, links, sign) and the end-to-end tests: the
// originals index with its file-size limit and the probe that records
// dimensions and dates, libvips and the transformer with the decode
// budget, the cache tiers, and the HTTP server over them.
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"syscall"
	"time"

	"github.com/thumbd/thumbd/accesslog"
	"github.com/thumbd/thumbd/budget"
	"github.com/thumbd/thumbd/cache"
	"github.com/thumbd/thumbd/config"
	"github.com/thumbd/thumbd/server"
	"github.com/thumbd/thumbd/storage"
	"github.com/thumbd/thumbd/transform"
	"github.com/thumbd/thumbd/video"
)

// App is the parts every command shares.
type App struct {
	Config      *config.Config
	Log         *slog.Logger
	Index       *storage.Index
	Budget      *budget.Budget
	Transformer *transform.Transformer
	transform   transform.Options
}

// Options are what differs between commands.
type Options struct {
	// Progress, if set, is called during scans (thumbd index draws a bar).
	Progress func(done, total int)
}

// New starts libvips (once per process) and opens the originals index;
// call Scan to fill it and Close when done.
func New(cfg *config.Config, log *slog.Logger, opts Options) (*App, error) {
	transform.Startup(cfg.VipsConcurrency, log)
	decode := budget.New(int64(cfg.MaxDecodeMB) << 20)
	topts := transform.Options{
		JPEGQuality: cfg.JPEGQuality, JPEGQualitySmall: cfg.JPEGQualitySmall, MaxMegapixels: cfg.MaxMegapixels,
		Crop: cfg.Crop, Background: &cfg.Background,
		WebPQuality: cfg.WebPQuality, WebPEffort: cfg.WebPEffort, AVIFQuality: cfg.AVIFQuality, AVIFEffort: cfg.AVIFEffort,
		HEIFThumbnails: cfg.HEIFThumbnails,
		MaxFrames:      cfg.MaxFrames, Budget: decode,
	}
	tr := transform.New(topts)
	probe := Probe(cfg.MaxFrames)
	if cfg.Placeholders {
		probe = ProbeWith(tr, cfg.MaxFrames, cfg.RequestTimeout)
	}
	ix, err := storage.Open(cfg.Originals, storage.Options{
		MaxFileSize:  int64(cfg.MaxFileMB) << 20,
		Probe:        probe,
		Placeholders: cfg.Placeholders,
		Progress:     opts.Progress,
		Log:          log,
	})
	if err != nil {
		return nil, fmt.Errorf("config: originals: %w", err)
	}
	return &App{Config: cfg, Log: log, Index: ix, Budget: decode, Transformer: tr, transform: topts}, nil
}

// Close releases the originals folder.
func (a *App) Close() error { return a.Index.Close() }

// Probe reads dimensions and the date taken at index time (for the link
// picker, manifests and pages); a file it cannot read gets zeros.
func Probe(maxFrames int) storage.Probe { return ProbeWith(nil, maxFrames, 0) }

// ProbeWith is Probe that also computes the placeholder with tr (behind
// its guards: header checks, decode budget, a deadline of timeout) when
// it sees the whole file; a file it cannot decode gets none.
func ProbeWith(tr *transform.Transformer, maxFrames int, timeout time.Duration) storage.Probe {
	return func(ctx context.Context, src []byte, complete bool) storage.Probed {
		info, err := transform.Probe(src, maxFrames)
		if err != nil {
			return storage.Probed{}
		}
		p := storage.Probed{Width: info.Width, Height: info.Height, Taken: info.Taken}
		if tr != nil && complete {
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			if ph, err := tr.Placeholder(ctx, src); err == nil {
				p.Placeholder = ph
			}
		}
		return p
	}
}

// Scan fills the index: from the index file when one is configured (only
// new or changed files are hashed), then a scan of the folder. It never
// writes the index file (see SaveIndex).
func (a *App) Scan(ctx context.Context) (storage.Stats, error) {
	if f := a.Config.IndexFile; f != "" {
		if n, err := a.Index.LoadIndexFile(f); err != nil {
			a.Log.Warn("index file unusable; hashing everything", "err", err)
		} else {
			a.Log.Info("index file loaded", "entries", n)
		}
	}
	st, err := a.Index.Scan(ctx, a.Config.IndexWorkers)
	if err != nil {
		return st, fmt.Errorf("index: %w", err)
	}
	return st, nil
}

// Fingerprint identifies every setting that changes a variant's bytes; it
// is part of ETags and disk cache names.
func (a *App) Fingerprint() string {
	return a.transform.Fingerprint() + fmt.Sprintf("-d%t", a.Config.Derive)
}

// Tiers opens the configured result caches, cheapest first.
func (a *App) Tiers() ([]cache.Tier, error) {
	cfg := a.Config
	var tiers []cache.Tier
	if cfg.CacheMB > 0 {
		tiers = append(tiers, cache.NewMemory(int64(cfg.CacheMB)<<20))
	}
	if cfg.DiskCacheDir != "" {
		tiers = append(tiers, cache.OpenDisk(cfg.DiskCacheDir, int64(cfg.DiskCacheMB)<<20, a.Fingerprint(), a.Log))
	}
	if cfg.PhotoPrismCache != "" {
		pp, err := cache.OpenPhotoPrism(cfg.PhotoPrismCache)
		if err != nil {
			return nil, fmt.Errorf("config: photoprism_cache_dir: %w", err)
		}
		tiers = append(tiers, pp)
	}
	return tiers, nil
}

// Server builds the HTTP server over the index, the transformer and the
// tiers, with the config's access policy in force. logDropped, if set,
// counts log lines the log writer had to drop (a metric).
func (a *App) Server(logw *accesslog.Writer) (*server.Server, error) {
	cfg := a.Config
	var logDropped func() uint64
	var access io.Writer
	if logw != nil {
		logDropped = logw.Dropped
		if cfg.LogFormat != "text" {
			access = logw // access lines bypass slog (see server.Options)
		}
	}
	tiers, err := a.Tiers()
	if err != nil {
		return nil, err
	}
	srv := server.New(a.Index, cfg.Signer, a.Transformer, server.Options{
		Workers:        cfg.JobWorkers(),
		QueueLength:    cfg.QueueLength,
		RequestTimeout: cfg.RequestTimeout,
		MaxSize:        cfg.MaxSize,
		Fingerprint:    a.Fingerprint(),
		Tiers:          tiers,
		Derive:         cfg.Derive,
		CustomMax:      cfg.CustomMax,
		Negotiate:      cfg.Negotiate,
		FailureTTL:     cfg.FailureTTL,
		ReadTimeout:    cfg.ReadTimeout,
		WriteTimeout:   cfg.WriteTimeout,
		IdleTimeout:    cfg.IdleTimeout,
		MaxConnections: MaxConnections(cfg.MaxConnections, a.Log),
		Poster:         video.Limits{MemoryBytes: int64(cfg.FFmpegMemoryMB) << 20},
		PosterReserve:  int64(config.FFmpegReserveMB(cfg.FFmpegMemoryMB, cfg.MaxDecodeMB)) << 20,
		Budget:         a.Budget,
		LogDropped:     logDropped,
		AccessJSON:     access,
		PublicURL:      PublicURL(cfg),
		PagesNoindex:   cfg.PagesNoindex,
	}, a.Log)
	srv.SetRevocations(cfg.Revocations)
	return srv, nil
}

// PublicURL is the base of absolute links (pages, oEmbed, the picker):
// public_url, else http://<listen>.
func PublicURL(cfg *config.Config) string {
	if cfg.PublicURL != "" {
		return strings.TrimRight(cfg.PublicURL, "/")
	}
	return "http://" + cfg.Listen
}

// AdminConnections bounds the admin listener.
const AdminConnections = 64

// MaxConnections is the public listener's bound: configured, or the
// open-file limit minus a reserve for the admin listener, originals,
// the disk cache, ffmpeg's pipes and the index, so a flood of connections
// never leaves the probes without a descriptor.
func MaxConnections(configured int, log *slog.Logger) int {
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
	reserve := max(AdminConnections+64, limit/8)
	n := int(limit - reserve)
	if n < 16 {
		log.Warn("open-file limit is very low; raise it (ulimit -n)", "limit", limit)
		n = 16
	}
	return n
}
