package cli

import (
	"context"
	"log/slog"
	"time"

	"github.com/thumbd/thumbd/config"
	"github.com/thumbd/thumbd/server"
)

// prerender runs the configured pre-render in the background, once now
// and again whenever the returned func is called (after a rescan found new
// photos); calls while one runs are coalesced into one more run. It logs
// progress every ten seconds and a summary.
func prerender(ctx context.Context, cfg *config.Config, srv *server.Server, log *slog.Logger) func() {
	if len(cfg.Prerender) == 0 {
		return func() {}
	}
	kick := make(chan struct{}, 1)
	kick <- struct{}{}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-kick:
			}
			start := time.Now()
			last := start
			st, err := srv.Prerender(ctx, server.PrerenderOptions{
				Sizes: cfg.Prerender, Workers: cfg.PrerenderWorkers, Yield: true,
				Progress: func(st server.PrerenderStats) {
					if time.Since(last) >= 10*time.Second {
						last = time.Now()
						log.Info("prerender: progress", "done", st.Done, "of", st.Total, "rendered", st.Rendered, "present", st.Present, "failed", st.Failed)
					}
				},
			})
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				log.Warn("prerender failed", "err", err)
				continue
			}
			if st.Full {
				log.Warn("prerender: stopped, the disk cache is at its budget (raise disk_cache_mb)", "done", st.Done, "of", st.Total)
			}
			log.Info("prerender done", "sizes", cfg.Prerender, "variants", st.Total, "rendered", st.Rendered, "present", st.Present,
				"failed", st.Failed, "full", st.Full, "seconds", time.Since(start).Seconds())
		}
	}()
	return func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
}
