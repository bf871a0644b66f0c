// Package deploy_test checks the deploy files against the real Kubernetes
// API types (unknown fields fail) and against the code they configure:
// probe paths and ports exist, config keys are known, and every metric the
// dashboard queries is one a running server exports.
package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
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
	"github.com/thumbd/thumbd/transform"
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

func TestManifestsDecodeStrictly(t *testing.T) {
	kinds := map[string]int{}
	for _, m := range manifests(t) {
		kinds[m.kind]++
		switch m.kind {
		case "Namespace":
			strict(t, m.json, &corev1.Namespace{})
		case "ConfigMap":
			strict(t, m.json, &corev1.ConfigMap{})
		case "Service":
			strict(t, m.json, &corev1.Service{})
		case "PersistentVolume":
			strict(t, m.json, &corev1.PersistentVolume{})
		case "PersistentVolumeClaim":
			strict(t, m.json, &corev1.PersistentVolumeClaim{})
		case "Deployment":
			strict(t, m.json, &appsv1.Deployment{})
		case "HorizontalPodAutoscaler":
			strict(t, m.json, &autoscalingv2.HorizontalPodAutoscaler{})
		case "PodDisruptionBudget":
			strict(t, m.json, &policyv1.PodDisruptionBudget{})
		case "NetworkPolicy":
			strict(t, m.json, &networkingv1.NetworkPolicy{})
		case "CronJob":
			strict(t, m.json, &batchv1.CronJob{})
		case "ServiceMonitor":
			// A CRD (Prometheus Operator), not in k8s.io/api: check its shape.
			var sm struct {
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
			strict(t, m.json, &sm)
			if sm.APIVersion != "monitoring.coreos.com/v1" || len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Path != "/metrics" || sm.Spec.Endpoints[0].Port != "admin" {
				t.Errorf("ServiceMonitor: %+v", sm)
			}
		default:
			t.Errorf("%s: unexpected kind %q", m.file, m.kind)
		}
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

	spec := d.Spec.Template.Spec
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
			t.Errorf("%s probe not on the admin port: %+v", name, probe)
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
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil {
		t.Error("no preStop hook")
	}
	if c.Resources.Limits.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
		t.Error("resources not set")
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
	ix, err := storage.Open("../testdata/photos", 0, log)
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
		Caches: server.Caches{Memory: cache.NewMemory(1 << 20)}, // as the ConfigMap's cache_mb
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
