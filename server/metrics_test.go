package server_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/thumbd/thumbd/variant"
)

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	r, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

var namedSizes = func() map[string]bool {
	m := map[string]bool{}
	for _, s := range variant.Sizes {
		m[s.Name] = true
	}
	return m
}()

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// Metrics appear with the right labels after real requests, and the admin
// probes answer as documented.
func TestAdminMetricsAndProbes(t *testing.T) {
	sg := newSigner(t, []string{keyA}, false)
	opts := defaultOptions()
	srv, base := startServer(t, sharedIx, sg, newCounting(false), opts)
	admin := httptest.NewServer(srv.AdminHandler(false))
	defer admin.Close()

	cops := hashOf(t, "cops.jpg")
	u := thumbURL(base, cops, sign(t, sg, cops, "tile_224", time.Time{}), "tile_224")
	for _, want := range []int{200, 200} {
		if r := get(t, u); r.Status != want {
			t.Fatalf("status %d", r.Status)
		}
	}
	get(t, thumbURL(base, cops, "AAAAAAAAAAAAAAAAAAAAAAAA", "tile_224")) // 403
	get(t, thumbURL(base, cops, "x", "tile_99999"))                      // 400, unknown size

	// A request is recorded after its response has gone out: wait until
	// all of them are counted (4 + 3 custom) before reading the figures.
	fams := scrape(t, admin.URL)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); fams = scrape(t, admin.URL) {
		var n uint64
		for _, m := range fams["thumbd_http_request_duration_seconds"].GetMetric() {
			n += m.GetHistogram().GetSampleCount()
		}
		if n >= 7 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, name := range []string{
		"thumbd_http_request_duration_seconds", "thumbd_transform_duration_seconds",
		"thumbd_transforms_in_flight", "thumbd_queue_depth", "thumbd_workers",
		"thumbd_overload_rejections_total", "thumbd_index_files", "thumbd_index_bytes",
		"thumbd_index_last_scan_duration_seconds", "thumbd_vips_memory_bytes",
		"go_goroutines", "process_resident_memory_bytes",
	} {
		if fams[name] == nil {
			t.Errorf("metric %s missing", name)
		}
	}
	seen := map[string]uint64{}
	for _, m := range fams["thumbd_http_request_duration_seconds"].GetMetric() {
		l := labels(m)
		seen[l["route"]+" "+l["size"]+" "+l["status"]+" "+l["cache"]] += m.GetHistogram().GetSampleCount()
		if _, named := namedSizes[l["size"]]; !named && l["size"] != "other" && l["size"] != "custom" {
			t.Errorf("unbounded size label %q", l["size"])
		}
	}
	for key, n := range map[string]uint64{
		"thumb tile_224 200 miss": 2, // no result cache in these options
		"thumb tile_224 200 none": 0,
		"thumb tile_224 403 none": 1,
		"thumb other 400 none":    1,
	} {
		if seen[key] != n {
			t.Errorf("request histogram %q count %d, want %d (have %v)", key, seen[key], n, seen)
		}
	}
	var transforms uint64
	for _, m := range fams["thumbd_transform_duration_seconds"].GetMetric() {
		if l := labels(m); l["size"] == "tile_224" && l["format"] == "jpg" {
			transforms += m.GetHistogram().GetSampleCount()
		}
	}
	if transforms != 2 { // no result cache in these options: both requests rendered
		t.Errorf("transform histogram count %d, want 2", transforms)
	}
	if v := fams["thumbd_index_files"].GetMetric()[0].GetGauge().GetValue(); v < 20 {
		t.Errorf("thumbd_index_files = %v", v)
	}

	// /readyz is 503 until the index is loaded (SetReady), /healthz always 200.
	srv.SetReady(false)
	for path, want := range map[string]int{"/readyz": 503, "/healthz": 200} {
		r, err := http.Get(admin.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != want {
			t.Errorf("%s while not ready: %d, want %d", path, r.StatusCode, want)
		}
	}
	srv.SetReady(true)
	if r, err := http.Get(admin.URL + "/readyz"); err != nil || r.StatusCode != 200 {
		t.Errorf("/readyz when ready: %v %v", r.StatusCode, err)
	}
	// pprof is off unless asked for.
	if r, _ := http.Get(admin.URL + "/debug/pprof/"); r.StatusCode != 404 {
		t.Errorf("pprof reachable while disabled: %d", r.StatusCode)
	}
}
