// Package deploy_test checks the deploy files against the real Kubernetes
// API types (unknown fields fail) and against the code they configure:
// probe paths and ports exist, config keys are known, and every metric the
// dashboard queries is one a running server exports.
package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/thumbd/thumbd/cache"
	"github.com/thumbd/thumbd/server"
	"github.com/thumbd/thumbd/signing"
	"github.com/thumbd/thumbd/storage"
	"github.com/thumbd/thumbd/thumburl"
	"github.com/thumbd/thumbd/transform"
	"github.com/thumbd/thumbd/variant"
)

// strict decodes one JSON document into v, refusing unknown fields.
func strict(t *testing.T, doc []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%T: %v", v, err)
	}
}

type object struct {
	file string
	kind string
	json []byte
}

// manifests reads every YAML document under kubernetes/ (kustomizations
// excluded) as JSON.
func manifests(t *testing.T) []object {
	var out []object
	err := filepath.Walk("kubernetes", func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || !strings.HasSuffix(p, ".yaml") || filepath.Base(p) == "kustomization.yaml" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			j, err := yaml.YAMLToJSON([]byte(doc))
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			var meta struct{ Kind string }
			json.Unmarshal(j, &meta)
			out = append(out, object{p, meta.Kind, j})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// serviceMonitor is the Prometheus Operator's CRD, which k8s.io/api lacks.
type serviceMonitor struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// decode decodes a manifest strictly into its Kubernetes API type (a
// pointer to it), failing on unknown kinds and fields.
func decode(t *testing.T, m object) any {
	t.Helper()
	var v any
	switch m.kind {
	case "Namespace":
		v = &corev1.Namespace{}
	case "ConfigMap":
		v = &corev1.ConfigMap{}
	case "Secret":
		v = &corev1.Secret{}
	case "Service":
		v = &corev1.Service{}
	case "PersistentVolume":
		v = &corev1.PersistentVolume{}
	case "PersistentVolumeClaim":
		v = &corev1.PersistentVolumeClaim{}
	case "Deployment":
		v = &appsv1.Deployment{}
	case "HorizontalPodAutoscaler":
		v = &autoscalingv2.HorizontalPodAutoscaler{}
	case "PodDisruptionBudget":
		v = &policyv1.PodDisruptionBudget{}
	case "NetworkPolicy":
		v = &networkingv1.NetworkPolicy{}
	case "CronJob":
		v = &batchv1.CronJob{}
	case "ServiceMonitor":
		sm := &serviceMonitor{}
		strict(t, m.json, sm)
		if sm.APIVersion != "monitoring.coreos.com/v1" || len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Path != "/metrics" || sm.Spec.Endpoints[0].Port != "admin" {
			t.Errorf("%s: ServiceMonitor: %+v", m.file, sm)
		}
		return sm
	default:
		t.Errorf("%s: unexpected kind %q", m.file, m.kind)
		return nil
	}
	strict(t, m.json, v)
	return v
}

func TestManifestsDecodeStrictly(t *testing.T) {
	kinds := map[string]int{}
	for _, m := range manifests(t) {
		kinds[m.kind]++
		decode(t, m)
	}
	for _, k := range []string{"Deployment", "Service", "ConfigMap", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "CronJob", "ServiceMonitor"} {
		if kinds[k] == 0 {
			t.Errorf("no %s in deploy/kubernetes", k)
		}
	}
}

func TestKustomizationsListExistingFiles(t *testing.T) {
	for _, k := range []string{"kubernetes/kustomization.yaml", "kubernetes/overlays/example/kustomization.yaml"} {
		b, err := os.ReadFile(k)
		if err != nil {
			t.Fatal(err)
		}
		var kz struct {
			Resources []string `json:"resources"`
		}
		if err := yaml.Unmarshal(b, &kz); err != nil {
			t.Fatal(err)
		}
		for _, r := range kz.Resources {
			if _, err := os.Stat(filepath.Join(filepath.Dir(k), r)); err != nil {
				t.Errorf("%s lists %s: %v", k, r, err)
			}
		}
	}
}

func deployment(t *testing.T) (*appsv1.Deployment, map[string]any) {
	var d appsv1.Deployment
	var cfg map[string]any
	for _, m := range manifests(t) {
		switch m.kind {
		case "Deployment":
			strict(t, m.json, &d)
		case "ConfigMap":
			var cm corev1.ConfigMap
			strict(t, m.json, &cm)
			if err := yaml.Unmarshal([]byte(cm.Data["config.yaml"]), &cfg); err != nil {
				t.Fatal(err)
			}
		}
	}
	return &d, cfg
}

// The ConfigMap sets only keys the service knows (the embedded config.yaml
// documents every one), and the Deployment runs as the docs say.
func TestDeploymentAgreesWithTheCode(t *testing.T) {
	d, cfg := deployment(t)
	checkDeployment(t, d, cfg)
}

// checkDeployment holds a Deployment and its config.yaml to the code:
// known config keys, ports and probes on the listeners the config names,
// non-root with a read-only root filesystem, a preStop pause, resources,
// the originals read-only and the keys from a Secret.
func checkDeployment(t *testing.T, d *appsv1.Deployment, cfg map[string]any) {
	t.Helper()
	defaults, err := os.ReadFile("../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var known map[string]any
	if err := yaml.Unmarshal(defaults, &known); err != nil {
		t.Fatal(err)
	}
	for k := range cfg {
		if _, ok := known[k]; !ok {
			t.Errorf("ConfigMap key %q is not a thumbd config key", k)
		}
	}
	if cfg["originals"] != "/photos" {
		t.Errorf("originals = %v", cfg["originals"])
	}
	if _, ok := cfg["keys"]; ok {
		t.Error("signing keys in a ConfigMap")
	}

	spec := d.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers", len(spec.Containers))
	}
	c := spec.Containers[0]
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if !strings.HasSuffix(fmt.Sprint(cfg["admin_listen"]), fmt.Sprintf(":%d", ports["admin"])) {
		t.Errorf("admin port %d does not match admin_listen %v", ports["admin"], cfg["admin_listen"])
	}
	if !strings.HasSuffix(fmt.Sprint(cfg["listen"]), fmt.Sprintf(":%d", ports["http"])) {
		t.Errorf("http port %d does not match listen %v", ports["http"], cfg["listen"])
	}
	for name, probe := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Port.StrVal != "admin" {
			t.Fatalf("%s probe not on the admin port: %+v", name, probe)
		}
	}
	if c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("probe paths %s, %s", c.ReadinessProbe.HTTPGet.Path, c.LivenessProbe.HTTPGet.Path)
	}
	if sc := spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Error("pod not runAsNonRoot")
	}
	if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("container root filesystem not read-only")
	}
	if sc := c.SecurityContext; sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Error("container may escalate privileges or keeps capabilities")
	}
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil {
		t.Error("no preStop hook")
	}
	if c.Resources.Limits.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
		t.Error("resources not set")
	}
	// The preStop pause and the drain fit in the grace period.
	if g, ok := cfg["shutdown_timeout"]; ok && spec.TerminationGracePeriodSeconds != nil && c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		drain, err := time.ParseDuration(fmt.Sprint(g))
		if err != nil {
			t.Errorf("shutdown_timeout %v: %v", g, err)
		}
		if pause := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second; pause+drain >= time.Duration(*spec.TerminationGracePeriodSeconds)*time.Second {
			t.Errorf("preStop %v + shutdown_timeout %v do not fit in terminationGracePeriodSeconds %d", pause, drain, *spec.TerminationGracePeriodSeconds)
		}
	}
	photosRO := false
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/photos" && m.ReadOnly {
			photosRO = true
		}
	}
	if !photosRO {
		t.Error("originals not mounted read-only")
	}
	keysFromSecret := false
	for _, e := range c.Env {
		if e.Name == "THUMBD_KEYS" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			keysFromSecret = true
		}
	}
	if !keysFromSecret {
		t.Error("THUMBD_KEYS not from a Secret")
	}
}

// The probes' paths answer on the real admin handler, and every metric the
// Grafana dashboard queries is exported by a server that served requests.
func TestProbesAndDashboardMetricsExist(t *testing.T) {
	d, _ := deployment(t)
	log := slog.New(slog.DiscardHandler)
	transform.Startup(1, log)
	ix, err := storage.Open("../testdata/photos", storage.Options{MaxFileSize: 0, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if _, err := ix.Scan(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	sg, _ := signing.New([]string{"deploy-test-key-0123456789abcdefghijkl"}, false)
	srv := server.New(ix, sg, transform.New(transform.Options{JPEGQuality: 83, JPEGQualitySmall: 78}), server.Options{
		Workers: 1, QueueLength: 4, RequestTimeout: 30 * time.Second, Fingerprint: "t",
		Tiers: []cache.Tier{cache.NewMemory(1 << 20)}, // as the ConfigMap's cache_mb
	}, log)
	srv.SetReady(true)
	pub := httptest.NewServer(srv.Handler())
	defer pub.Close()
	admin := httptest.NewServer(srv.AdminHandler(false))
	defer admin.Close()

	c := d.Spec.Template.Spec.Containers[0]
	for _, p := range []string{c.ReadinessProbe.HTTPGet.Path, c.LivenessProbe.HTTPGet.Path} {
		r, err := http.Get(admin.URL + p)
		if err != nil || r.StatusCode != 200 {
			t.Errorf("probe %s: %v %v", p, r.StatusCode, err)
		}
	}

	// Serve one real thumbnail so the histograms exist.
	o := ix.All()[0]
	tok, _ := sg.Sign(o.Hash, "tile_50", time.Time{})
	if r, err := http.Get(pub.URL + "/t/" + o.Hash + "/" + tok + "/tile_50"); err != nil || r.StatusCode != 200 {
		t.Fatalf("thumbnail: %v %v", r.StatusCode, err)
	}
	// The request is recorded after its response has gone out: scrape until
	// its histogram is there.
	var body []byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		r, err := http.Get(admin.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(r.Body)
		r.Body.Close()
		if bytes.Contains(body, []byte("thumbd_http_request_duration_seconds_count{")) {
			break
		}
	}
	exported := map[string]bool{}
	for _, line := range strings.Split(string(body), "\n") {
		if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(line, "#") {
			name := f[0]
			if i := strings.IndexByte(name, '{'); i >= 0 {
				name = name[:i]
			}
			exported[name] = true
		}
	}
	dash, err := os.ReadFile("grafana/thumbd-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dj struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(dash, &dj); err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, p := range dj.Panels {
		for _, tg := range p.Targets {
			for _, m := range regexp.MustCompile(`\b(thumbd_[a-z_]+|process_[a-z_]+)`).FindAllString(tg.Expr, -1) {
				used[m] = true
			}
		}
	}
	var missing []string
	for m := range used {
		if !exported[m] {
			missing = append(missing, m)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("dashboard queries metrics the server does not export: %v", missing)
	}
	if len(used) < 8 {
		t.Errorf("dashboard uses only %d metrics", len(used))
	}
}

// nginxConf is deploy/nginx/thumbd.conf with comments removed.
func nginxConf(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("nginx/thumbd.conf")
	if err != nil {
		t.Fatal(err)
	}
	return regexp.MustCompile(`(?m)#.*$`).ReplaceAllString(string(b), "")
}

// canonicalPatterns are the regexes of the map that decides what nginx
// may cache (value 0: canonical).
func canonicalPatterns(t *testing.T, conf string) []*regexp.Regexp {
	t.Helper()
	m := regexp.MustCompile(`(?s)map \$request_uri \$thumbd_noncanonical \{(.*?)\n\}`).FindStringSubmatch(conf)
	if m == nil {
		t.Fatal("nginx/thumbd.conf: no `map $request_uri $thumbd_noncanonical` block")
	}
	var out []*regexp.Regexp
	sawDefault := false
	for _, l := range strings.Split(m[1], "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "":
		case l == "default 1;":
			sawDefault = true
		case strings.HasPrefix(l, `"~`) && strings.HasSuffix(l, `" 0;`):
			out = append(out, regexp.MustCompile(strings.TrimSuffix(strings.TrimPrefix(l, `"~`), `" 0;`)))
		default:
			t.Fatalf("nginx/thumbd.conf: map line %q: want `default 1;` or `\"~<regex>\" 0;`", l)
		}
	}
	if !sawDefault || len(out) == 0 {
		t.Fatal("nginx/thumbd.conf: the map must default to 1 (non-canonical) and list canonical regexes")
	}
	return out
}

func anyMatch(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// The nginx config caches only what thumbd's URL grammar calls canonical,
// keyed on exactly what it sends upstream: every URL `thumbd sign` can
// print is cacheable, no other spelling of it is, and nothing the pattern
// accepts is outside the grammar.
func TestNginxCachesOnlyCanonicalURLs(t *testing.T) {
	conf := nginxConf(t)
	res := canonicalPatterns(t, conf)

	// Directives: the key and the upstream request are the raw request
	// URI, and every cached location consults the map both ways.
	if strings.Contains(conf, "$uri") {
		t.Error("nginx/thumbd.conf uses $uri (normalised, not what goes upstream)")
	}
	if !regexp.MustCompile(`(?m)^\s*merge_slashes off;`).MatchString(conf) {
		t.Error("nginx/thumbd.conf: merge_slashes off missing")
	}
	locs := regexp.MustCompile(`location\s+(\S+)\s*\{([^}]*)\}`).FindAllStringSubmatch(conf, -1)
	seen := map[string]bool{}
	for _, l := range locs {
		name, body := l[1], l[2]
		seen[name] = true
		for _, pp := range regexp.MustCompile(`proxy_pass\s+([^;]*);`).FindAllStringSubmatch(body, -1) {
			if pp[1] != "http://thumbd$request_uri" {
				t.Errorf("location %s: proxy_pass %s, want http://thumbd$request_uri (the URI as sent, as keyed)", name, pp[1])
			}
		}
		if strings.Contains(body, "proxy_cache thumbd;") {
			for _, d := range []string{"proxy_cache_key $request_uri;", "proxy_no_cache $thumbd_noncanonical;", "proxy_cache_bypass $thumbd_noncanonical;"} {
				if !strings.Contains(body, d) {
					t.Errorf("location %s caches but lacks %q", name, d)
				}
			}
		}
	}
	if !seen["/t/"] || !seen["/v/"] || !seen["/"] {
		t.Errorf("nginx/thumbd.conf: want locations /t/, /v/ and /, got %v", seen)
	}

	// Every URL sign can mint is canonical.
	sg, err := signing.New([]string{"deploy-test-key-0123456789abcdefghijkl"}, true)
	if err != nil {
		t.Fatal(err)
	}
	const hash = "534feabf61b79a5478620bd313defcb883e325bd"
	sizes := append(variant.SizeNames(), "tile_37", "tile_16384", "fit_640x480", "fit_1x1", "fit_16384x16384", "screen_1024x768")
	var canon []string
	for _, size := range sizes {
		never, err := sg.Sign(hash, size, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		expiring, err := sg.Sign(hash, size, time.Now().Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range []string{never, expiring, signing.PublicToken} {
			for _, ext := range []string{"", ".jpg", ".jpeg", ".png", ".webp", ".avif"} {
				p := thumburl.Path(hash, tok, size+ext)
				if _, err := thumburl.Parse(hash, tok, size+ext); err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				if !anyMatch(res, p) {
					t.Errorf("%s is canonical but nginx would not cache it", p)
				}
				canon = append(canon, p)
			}
		}
	}

	// No other spelling of one is.
	real := canon[len(canon)/2]
	seg := strings.Split(real, "/")
	h, k, s := seg[2], seg[3], seg[4]
	for _, v := range []string{
		"/t/" + h + "/" + k + "//" + s, "//t/" + h + "/" + k + "/" + s, "/t//" + h + "/" + k + "/" + s,
		"/t/./" + h + "/" + k + "/" + s, "/t/" + h + "/" + k + "/x/../" + s, "/x/../t/" + h + "/" + k + "/" + s,
		"/t/" + h + "/" + k + "/" + s + "/", "/t/" + h + "/" + k + "/" + s + "?", "/t/" + h + "/" + k + "/" + s + "?x=1",
		"/t/" + h + "/" + k + "/" + s + "#x", "/t/" + h + "/" + k + "/" + s + ";x=1", "/t/" + h + ";x/" + k + "/" + s,
		"/t/" + h + "/" + k + "%2F" + s, "/t/%35" + h[1:] + "/" + k + "/" + s, "/t/" + h + "/%41" + k[1:] + "/" + s,
		"/t/" + h + "/" + k + "/%74ile_500", "/t/" + strings.ToUpper(h) + "/" + k + "/" + s, "/T/" + h + "/" + k + "/" + s,
		"/t/" + h + "/" + k + "/tile_500.JPG", "/t/" + h + "/" + k + "/tile_500.jpg.", "/t/" + h + "/" + k + "/tile_0500",
		"/t/" + h + "/" + k + "/fit_640x0480", "/t/" + h + "/" + k + "/tile_500 ", "/t/" + h + "/" + k + "/" + s + "\n",
		"/t/" + h + "/../" + s, "/t/" + h + "/./" + s, "/t/" + h + "/" + k, "/v/" + h + "/" + k + "/avc",
	} {
		if anyMatch(res, v) {
			t.Errorf("nginx would cache the non-canonical %q", v)
		}
	}

	// Nothing the patterns accept is outside the grammar: random edits of
	// canonical URLs either stop matching or still parse, three segments
	// under /t/ and no dot segment. The one exception is magnitude: the
	// pattern allows five-digit edges, thumbd refuses those above
	// MaxCustomEdge, and that refusal is cached under its own URL only.
	bigEdge := func(size string) bool {
		for _, n := range regexp.MustCompile(`[0-9]+`).FindAllString(size, -1) {
			if v, _ := strconv.Atoi(n); v > variant.MaxCustomEdge {
				return true
			}
		}
		return false
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "/.%?;#~+ aAfFzZ09x_-"
	accepted := 0 // edits still matching: the check below is exercised
	for i := 0; i < 50000; i++ {
		orig := canon[rng.IntN(len(canon))]
		b := []byte(orig)
		for n := 1 + rng.IntN(3); n > 0; n-- {
			j, c := rng.IntN(len(b)+1), alphabet[rng.IntN(len(alphabet))]
			switch rng.IntN(3) {
			case 0:
				b = append(b[:j:j], append([]byte{c}, b[j:]...)...)
			case 1:
				if j < len(b) {
					b[j] = c
				}
			case 2:
				if j < len(b) {
					b = append(b[:j:j], b[j+1:]...)
				}
			}
		}
		p := string(b)
		if !anyMatch(res, p) {
			continue
		}
		seg := strings.Split(p, "/")
		if len(seg) != 5 || seg[0] != "" || seg[1] != "t" || seg[3] == "." || seg[3] == ".." {
			t.Fatalf("nginx would cache %q, which is not /t/<hash>/<token>/<size>", p)
		}
		if _, err := thumburl.Parse(seg[2], seg[3], seg[4]); err != nil && !(errors.Is(err, variant.ErrUnknownSize) && bigEdge(seg[4])) {
			t.Fatalf("nginx would cache %q, which thumbd refuses: %v", p, err)
		}
		if p != orig {
			accepted++
		}
	}
	if accepted < 1000 {
		t.Errorf("only %d edited URLs still matched: the soundness check is barely exercised", accepted)
	}
	t.Logf("%d canonical URLs, %d accepted edits checked against the grammar", len(canon), accepted)
}
