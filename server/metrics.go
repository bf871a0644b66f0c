package server

import (
	"net/http"
	"net/http/pprof"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/thumbd/thumbd/transform"
	"github.com/thumbd/thumbd/variant"
	"github.com/thumbd/thumbd/video"
)

// metrics are thumbd's Prometheus series. Labels take bounded values only:
// size is a named size or "other", status a number, cache an outcome.
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.HistogramVec
	transform *prometheus.HistogramVec
	rejected  prometheus.Counter
	deadline  *prometheus.CounterVec
	// children are the request histogram's series, bound once per label
	// set (label values are bounded, so this stays small): a hit does not
	// hash four label values each time.
	children sync.Map // requestLabels -> prometheus.Observer
}

type requestLabels struct {
	route, size string
	status      int
	outcome     string
}

// requestSeries returns the bound series for one label set.
func (m *metrics) requestSeries(l requestLabels) prometheus.Observer {
	if o, ok := m.children.Load(l); ok {
		return o.(prometheus.Observer)
	}
	o := m.requests.WithLabelValues(l.route, l.size, strconv.Itoa(l.status), l.outcome)
	m.children.Store(l, o)
	return o
}

var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

func newMetrics(s *Server) *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		reg: reg,
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "thumbd_http_request_duration_seconds",
			Help:    "Time to answer a request on the public port, by route, size, status and cache outcome.",
			Buckets: latencyBuckets,
		}, []string{"route", "size", "status", "cache"}),
		transform: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "thumbd_transform_duration_seconds",
			Help:    "Time of one libvips job (read original, transform, encode), by size and output format.",
			Buckets: latencyBuckets,
		}, []string{"size", "format"}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "thumbd_overload_rejections_total",
			Help: "Requests answered 503 because every worker was busy and the queue full.",
		}),
		deadline: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "thumbd_deadline_exceeded_total",
			Help: "Requests answered 503 at the request deadline: stage render (libvips/ffmpeg stopped), wait (for a worker or decode memory) or remembered (a recent render of the same original was too slow).",
		}, []string{"stage"}),
	}
	reg.MustRegister(m.requests, m.transform, m.rejected, m.deadline,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "thumbd_transforms_in_flight", Help: "libvips jobs running now."},
			func() float64 { return float64(s.limit.running.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "thumbd_queue_depth", Help: "Requests waiting for a worker."},
			func() float64 { return float64(s.limit.waiting.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "thumbd_workers", Help: "Configured libvips worker slots."},
			func() float64 { return float64(cap(s.limit.slots)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "thumbd_vips_memory_bytes", Help: "Memory libvips tracks as allocated."},
			func() float64 { mem, _ := transform.MemStats(); return float64(mem) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "thumbd_vips_memory_highwater_bytes", Help: "Most memory libvips has tracked at once."},
			func() float64 { _, high := transform.MemStats(); return float64(high) }),
		&indexCollector{s},
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "thumbd_log_lines_dropped_total",
			Help: "Log lines dropped because the log destination was slower than they arrived."},
			func() float64 {
				if s.opts.LogDropped == nil {
					return 0
				}
				return float64(s.opts.LogDropped())
			}),
		&cacheCollector{s},
	)
	return m
}

var (
	descIndexFiles    = prometheus.NewDesc("thumbd_index_files", "Originals in the index.", nil, nil)
	descIndexBytes    = prometheus.NewDesc("thumbd_index_bytes", "Bytes of the indexed originals.", nil, nil)
	descIndexScanTime = prometheus.NewDesc("thumbd_index_last_scan_timestamp_seconds", "When the last index scan finished.", nil, nil)
	descIndexScanDur  = prometheus.NewDesc("thumbd_index_last_scan_duration_seconds", "How long the last index scan took.", nil, nil)
	descCacheHits     = prometheus.NewDesc("thumbd_cache_hits_total", "Result cache hits by tier.", []string{"tier"}, nil)
	descCacheMisses   = prometheus.NewDesc("thumbd_cache_misses_total", "Result cache misses by tier.", []string{"tier"}, nil)
	descCacheEvicted  = prometheus.NewDesc("thumbd_cache_evictions_total", "Entries evicted by tier.", []string{"tier"}, nil)
	descCacheBytes    = prometheus.NewDesc("thumbd_cache_bytes", "Bytes held by tier.", []string{"tier"}, nil)
	descCacheItems    = prometheus.NewDesc("thumbd_cache_items", "Entries held by the memory tier.", nil, nil)
	descDiskErrors    = prometheus.NewDesc("thumbd_disk_cache_write_errors_total", "Failed disk cache writes (each degrades the tier for a minute).", nil, nil)
	descDiskCorrupt   = prometheus.NewDesc("thumbd_disk_cache_corrupt_total", "Incomplete disk cache entries found and removed.", nil, nil)
	descDiskSkipped   = prometheus.NewDesc("thumbd_disk_cache_full_skips_total", "Disk cache writes left out because the folder was at its budget (an eviction runs meanwhile).", nil, nil)
	descDiskDegraded  = prometheus.NewDesc("thumbd_disk_cache_degraded", "1 while the disk tier is skipped after a failure.", nil, nil)
)

type indexCollector struct{ s *Server }

func (c *indexCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descIndexFiles
	ch <- descIndexBytes
	ch <- descIndexScanTime
	ch <- descIndexScanDur
}

func (c *indexCollector) Collect(ch chan<- prometheus.Metric) {
	st, at := c.s.index.LastScan()
	ch <- prometheus.MustNewConstMetric(descIndexFiles, prometheus.GaugeValue, float64(c.s.index.Len()))
	ch <- prometheus.MustNewConstMetric(descIndexBytes, prometheus.GaugeValue, float64(st.Bytes))
	if !at.IsZero() {
		ch <- prometheus.MustNewConstMetric(descIndexScanTime, prometheus.GaugeValue, float64(at.Unix()))
	}
	ch <- prometheus.MustNewConstMetric(descIndexScanDur, prometheus.GaugeValue, st.Duration.Seconds())
}

type cacheCollector struct{ s *Server }

func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCacheHits, descCacheMisses, descCacheEvicted, descCacheBytes, descCacheItems, descDiskErrors, descDiskCorrupt, descDiskSkipped, descDiskDegraded} {
		ch <- d
	}
}

// Collect reports every tier from its own Stats: the same counters for
// all, the entry count where a tier keeps one, disk health for disk tiers.
func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, t := range c.s.opts.Tiers {
		st, name := t.Stats(), t.Name()
		counter(descCacheHits, st.Hits, name)
		counter(descCacheMisses, st.Misses, name)
		counter(descCacheEvicted, st.Evictions, name)
		gauge(descCacheBytes, float64(st.Bytes), name)
		if st.Items >= 0 {
			gauge(descCacheItems, float64(st.Items))
		}
		if st.OnDisk {
			counter(descDiskErrors, st.WriteErrors)
			counter(descDiskCorrupt, st.Corrupt)
			counter(descDiskSkipped, st.Skipped)
			deg := 0.0
			if st.Degraded {
				deg = 1
			}
			gauge(descDiskDegraded, deg)
		}
	}
}

// sizeLabel keeps the size label bounded: named sizes as themselves, every
// custom size (fit_WxH, tile_N, screen_WxH) as "custom".
func sizeLabel(s variant.Size) string {
	if s.Custom {
		return "custom"
	}
	return s.Name
}

// observe records one request in the latency histogram.
func (m *metrics) observe(c echo.Context, start time.Time) {
	st := state(c)
	route, size := "other", "other"
	switch c.Path() {
	case "/t/:hash/:token/:size":
		route = "thumb"
		if st.size != "" {
			size = st.size // parsed by the handler
			break
		}
		name := c.Param("size")
		for i := 0; i < len(name); i++ {
			if name[i] == '.' {
				name = name[:i]
				break
			}
		}
		if s, err := variant.ParseSize(name); err == nil {
			size = sizeLabel(s)
		}
	case "/v/:hash/:token/:format":
		route = "video"
		if f := c.Param("format"); video.IsFormat(f) {
			size = f
		}
	case "/healthz":
		route = "healthz"
	default:
		if r := pageRoute(c.Path()); r != "" {
			route = r
		}
	}
	outcome := st.outcome
	if outcome == "" {
		outcome = "none"
	}
	m.requestSeries(requestLabels{route, size, c.Response().Status, outcome}).Observe(time.Since(start).Seconds())
}

// AdminHandler serves the admin listener: /metrics, /healthz (alive),
// /readyz (index loaded and not draining) and, if enabled, /debug/pprof/.
// It is never behind the worker limit, so a saturated server still answers
// its probes (imgproxy#408).
func (s *Server) AdminHandler(enablePprof bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if !s.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	if enablePprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		// Not pprof.Cmdline: the command line may carry --keys.
		mux.HandleFunc("/debug/pprof/cmdline", http.NotFound)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}
