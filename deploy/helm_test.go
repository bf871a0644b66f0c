package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/thumbd/thumbd/config"
)

// Helm is built from its Go module, not added to this module's go.mod
// (its dependency tree is most of Kubernetes): `go install pkg@version`,
// or, where the proxy's version list cannot be read, `go mod download`
// and a build of cmd/helm in the module's folder. The binary is kept in
// the repository's .cache/ (git-ignored) for the next run.
const (
	helmModule  = "helm.sh/helm/v3"
	helmVersion = "v3.21.4"
	chart       = "helm/thumbd"
)

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
)

// helm returns the path of a helm binary of helmVersion; without one it
// skips, or fails when CI is set (`make test` builds it).
func helm(t *testing.T) string {
	t.Helper()
	helmOnce.Do(func() { helmPath, helmErr = buildHelm() })
	if helmErr != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("no helm %s: %v", helmVersion, helmErr)
		}
		t.Fatalf("no helm %s but CI is set: %v", helmVersion, helmErr)
	}
	return helmPath
}

func buildHelm() (string, error) {
	root, err := filepath.Abs("..")
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, ".cache", "helm-"+helmVersion)
	bin := filepath.Join(dir, "helm")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	install := exec.CommandContext(ctx, "go", "install", helmModule+"/cmd/helm@"+helmVersion)
	install.Dir = tmp // outside this module
	install.Env = append(os.Environ(), "GOBIN="+tmp, "GOWORK=off")
	out, err := install.CombinedOutput()
	if err != nil {
		dl := exec.CommandContext(ctx, "go", "mod", "download", "-json", helmModule+"@"+helmVersion)
		dl.Dir = tmp
		dl.Env = append(os.Environ(), "GOWORK=off")
		js, derr := dl.Output()
		var mod struct{ Dir string }
		if derr == nil {
			derr = json.Unmarshal(js, &mod)
		}
		if derr != nil || mod.Dir == "" {
			return "", fmt.Errorf("go install: %v\n%s\ngo mod download: %v %s", err, out, derr, js)
		}
		build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(tmp, "helm"), "./cmd/helm")
		build.Dir = mod.Dir
		build.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
		if out, err := build.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build ./cmd/helm in %s: %v\n%s", mod.Dir, err, out)
		}
	}
	if err := os.Rename(filepath.Join(tmp, "helm"), bin); err != nil {
		return "", err
	}
	return bin, nil
}

// valueSets are the chart's values files the tests render: the defaults,
// every optional part on, every optional part off.
var valueSets = []string{"", "ci/full-values.yaml", "ci/minimal-values.yaml"}

func setName(v string) string {
	if v == "" {
		return "defaults"
	}
	return strings.TrimSuffix(path.Base(v), ".yaml")
}

func helmArgs(args []string, values string) []string {
	if values != "" {
		args = append(args, "-f", filepath.Join(chart, values))
	}
	return args
}

func runHelm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	// Built (minutes on a fresh machine) before the clock of one run starts.
	bin := helm(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	// No repositories, plugins or caches of the user's: helm's own
	// folders live in the test's temp dir.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home+"/cache", "HELM_CONFIG_HOME="+home+"/config", "HELM_DATA_HOME="+home+"/data")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String(), err
}

// The chart passes `helm lint --strict` with each values set.
func TestHelmLint(t *testing.T) {
	for _, v := range valueSets {
		out, err := runHelm(t, helmArgs([]string{"lint", "--strict", chart}, v)...)
		if err != nil || !strings.Contains(out, "0 chart(s) failed") {
			t.Errorf("%s: %v\n%s", setName(v), err, out)
		}
	}
	if out, err := exec.Command("go", "version", "-m", helm(t)).CombinedOutput(); err == nil {
		if m := regexp.MustCompile(`(?m)^\s*mod\s+(\S+)\s+(\S+)`).FindStringSubmatch(string(out)); m != nil {
			t.Logf("helm: %s %s", m[1], m[2])
		}
	}
}

// render runs `helm template` and returns its manifests as JSON.
func render(t *testing.T, values string, set ...string) []object {
	t.Helper()
	args := helmArgs([]string{"template", "thumbd", chart, "--namespace", "thumbd"}, values)
	for _, s := range set {
		args = append(args, "--set", s)
	}
	out, err := runHelm(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	var objs []object
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(out, -1) {
		src := "helm template"
		if m := regexp.MustCompile(`(?m)^# Source: (\S+)`).FindStringSubmatch(doc); m != nil {
			src = m[1]
		}
		if strings.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(doc, "")) == "" {
			continue
		}
		j, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			t.Fatalf("%s: %v\n%s", src, err, doc)
		}
		var meta struct{ Kind string }
		json.Unmarshal(j, &meta)
		objs = append(objs, object{src, meta.Kind, j})
	}
	return objs
}

// rendered is one render of the chart, decoded strictly.
type rendered struct {
	kinds      []string
	deployment *appsv1.Deployment
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
	services   []*corev1.Service
	claims     map[string]*corev1.PersistentVolumeClaim
	hpa        *autoscalingv2.HorizontalPodAutoscaler
	pdb        *policyv1.PodDisruptionBudget
	netpol     *networkingv1.NetworkPolicy
	cronJob    *batchv1.CronJob
	monitor    *serviceMonitor
}

func decodeAll(t *testing.T, objs []object) *rendered {
	t.Helper()
	r := &rendered{configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}, claims: map[string]*corev1.PersistentVolumeClaim{}}
	for _, m := range objs {
		r.kinds = append(r.kinds, m.kind)
		switch v := decode(t, m).(type) {
		case *appsv1.Deployment:
			if r.deployment != nil {
				t.Error("two Deployments")
			}
			r.deployment = v
		case *corev1.ConfigMap:
			r.configMaps[v.Name] = v
		case *corev1.Secret:
			r.secrets[v.Name] = v
		case *corev1.Service:
			r.services = append(r.services, v)
		case *corev1.PersistentVolumeClaim:
			r.claims[v.Name] = v
		case *autoscalingv2.HorizontalPodAutoscaler:
			r.hpa = v
		case *policyv1.PodDisruptionBudget:
			r.pdb = v
		case *networkingv1.NetworkPolicy:
			r.netpol = v
		case *batchv1.CronJob:
			r.cronJob = v
		case *serviceMonitor:
			r.monitor = v
		}
	}
	sort.Strings(r.kinds)
	if r.deployment == nil {
		t.Fatal("no Deployment rendered")
	}
	return r
}

// selects reports whether a selector's labels are all on the pod.
func selects(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// sources counts the volume sources set in a volume (exactly one is valid).
func sources(t *testing.T, v corev1.Volume) int {
	b, err := json.Marshal(v.VolumeSource)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	return len(m)
}

func mountAt(mounts []corev1.VolumeMount, dir string) *corev1.VolumeMount {
	for i := range mounts {
		if mounts[i].MountPath == dir {
			return &mounts[i]
		}
	}
	return nil
}

func volumeNamed(vols []corev1.Volume, name string) *corev1.Volume {
	for i := range vols {
		if vols[i].Name == name {
			return &vols[i]
		}
	}
	return nil
}

// configOf reads the config.yaml of the ConfigMap a pod mounts, checks
// that the container's --config names it, and loads it with thumbd's own
// config loader (paths moved to local folders), which refuses unknown
// keys and bad values as start-up does.
func (r *rendered) configOf(t *testing.T, pod corev1.PodSpec, args []string) map[string]any {
	t.Helper()
	c := pod.Containers[0]
	if len(args) != 3 || args[1] != "--config" {
		t.Fatalf("args %v: want <command> --config FILE", args)
	}
	dir, file := path.Split(args[2])
	m := mountAt(c.VolumeMounts, strings.TrimSuffix(dir, "/"))
	if m == nil || !m.ReadOnly {
		t.Fatalf("--config %s: no read-only mount at %s", args[2], dir)
	}
	v := volumeNamed(pod.Volumes, m.Name)
	if v == nil || v.ConfigMap == nil {
		t.Fatalf("--config %s: mount %s is not a ConfigMap volume", args[2], m.Name)
	}
	cm := r.configMaps[v.ConfigMap.Name]
	if cm == nil || cm.Data[file] == "" {
		t.Fatalf("--config %s: ConfigMap %s with key %s not rendered", args[2], v.ConfigMap.Name, file)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(cm.Data[file]), &cfg); err != nil {
		t.Fatal(err)
	}

	local := map[string]any{}
	for k, v := range cfg {
		local[k] = v
	}
	tmp := t.TempDir()
	local["originals"] = tmp
	if cfg["index_file"] != nil {
		os.MkdirAll(tmp+"-index", 0o755)
		local["index_file"] = filepath.Join(tmp+"-index", "index.jsonl")
	}
	if cfg["disk_cache_dir"] != nil {
		local["disk_cache_dir"] = tmp + "-cache"
	}
	b, _ := yaml.Marshal(local)
	f := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(f, b, 0o600)
	defaults, err := os.ReadFile("../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	config.Flags(fs)
	fs.Parse([]string{"--config", f})
	if _, err := config.Load(defaults, fs, []string{"helm-test-key-0123456789abcdefghijklmnop"}); err != nil {
		t.Errorf("thumbd refuses the chart's config.yaml: %v\n%s", err, cm.Data[file])
	}
	return cfg
}

// check holds one render to the code and to itself: every reference
// (ConfigMap, Secret, claim, port name, selector) points at something
// rendered, and each optional part agrees with the config.
func (r *rendered) check(t *testing.T) map[string]any {
	t.Helper()
	d := r.deployment
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	if len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Errorf("container args %v: want serve --config FILE", c.Args)
	}
	cfg := r.configOf(t, pod, c.Args)
	checkDeployment(t, d, cfg)
	labels := d.Spec.Template.Labels
	if !selects(d.Spec.Selector.MatchLabels, labels) {
		t.Errorf("Deployment selector %v does not match its pods %v", d.Spec.Selector.MatchLabels, labels)
	}

	// Volumes: one source each, every mount backed, claims rendered or
	// named by the user, the photo library read-only.
	for _, v := range pod.Volumes {
		if n := sources(t, v); n != 1 {
			t.Errorf("volume %s has %d sources", v.Name, n)
		}
	}
	for _, m := range c.VolumeMounts {
		if volumeNamed(pod.Volumes, m.Name) == nil {
			t.Errorf("mount %s: no volume %s", m.MountPath, m.Name)
		}
	}
	photos := volumeNamed(pod.Volumes, mountAt(c.VolumeMounts, "/photos").Name)
	if pvc := photos.PersistentVolumeClaim; pvc != nil && !pvc.ReadOnly {
		t.Error("photos claim not readOnly")
	}
	if nfs := photos.NFS; nfs != nil && !nfs.ReadOnly {
		t.Error("photos NFS volume not readOnly")
	}

	// Keys from the Secret the chart makes or the one the user names.
	for _, e := range c.Env {
		if e.Name != "THUMBD_KEYS" {
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		if s, ok := r.secrets[ref.Name]; ok {
			if len(s.StringData[ref.Key]) < 32 {
				t.Errorf("Secret %s has no key %q of 32 bytes or more", ref.Name, ref.Key)
			}
		} else if ref.Name != "thumbd-keys" || ref.Key != "keys" {
			t.Errorf("THUMBD_KEYS from Secret %s/%s, which is neither rendered nor the documented thumbd-keys/keys", ref.Name, ref.Key)
		}
	}

	// The disk cache: a writable volume at disk_cache_dir, shared
	// (ReadWriteMany) when it is a claim, outside the originals.
	if dir, ok := cfg["disk_cache_dir"].(string); ok && dir != "" {
		m := mountAt(c.VolumeMounts, dir)
		if m == nil || m.ReadOnly {
			t.Fatalf("disk_cache_dir %s: no writable mount", dir)
		}
		if strings.HasPrefix(dir+"/", "/photos/") {
			t.Error("disk cache inside the originals")
		}
		v := volumeNamed(pod.Volumes, m.Name)
		switch {
		case v.PersistentVolumeClaim != nil:
			claim := r.claims[v.PersistentVolumeClaim.ClaimName]
			if claim == nil || len(claim.Spec.AccessModes) != 1 || claim.Spec.AccessModes[0] != corev1.ReadWriteMany {
				t.Errorf("disk cache claim %s: not a rendered ReadWriteMany claim", v.PersistentVolumeClaim.ClaimName)
			}
		case v.EmptyDir != nil:
			if v.EmptyDir.SizeLimit == nil || v.EmptyDir.SizeLimit.Value() < int64(toInt(cfg["disk_cache_mb"]))<<20 {
				t.Errorf("disk cache emptyDir %v smaller than disk_cache_mb %v", v.EmptyDir.SizeLimit, cfg["disk_cache_mb"])
			}
		default:
			t.Errorf("disk cache volume %s is neither a claim nor an emptyDir", v.Name)
		}
		if sc := pod.SecurityContext; sc.FSGroup == nil || *sc.FSGroup != *sc.RunAsGroup {
			t.Error("disk cache volume: no fsGroup for the thumbd user to write it")
		}
	}

	// The index: the Deployment reads it, the CronJob writes it, both on
	// the same claim, with the same config and image.
	if f, ok := cfg["index_file"].(string); ok && f != "" {
		dir := path.Dir(f)
		m := mountAt(c.VolumeMounts, dir)
		if m == nil || !m.ReadOnly {
			t.Fatalf("index_file %s: the Deployment has no read-only mount at %s", f, dir)
		}
		claim := volumeNamed(pod.Volumes, m.Name).PersistentVolumeClaim
		if claim == nil {
			t.Fatal("index volume is not a claim")
		}
		if pvc := r.claims[claim.ClaimName]; pvc == nil || pvc.Spec.AccessModes[0] != corev1.ReadWriteMany {
			t.Errorf("index claim %s: not a rendered ReadWriteMany claim", claim.ClaimName)
		}
		cj := r.cronJob
		if cj == nil {
			t.Fatal("index_file set but no CronJob writes it")
		}
		jpod := cj.Spec.JobTemplate.Spec.Template.Spec
		jc := jpod.Containers[0]
		if len(jc.Args) == 0 || jc.Args[0] != "index" {
			t.Errorf("CronJob args %v: want index --config FILE", jc.Args)
		}
		if jcfg := r.configOf(t, jpod, jc.Args); !reflect.DeepEqual(jcfg, cfg) {
			t.Error("the CronJob reads another config than the Deployment")
		}
		if jc.Image != c.Image {
			t.Errorf("CronJob image %s, Deployment %s", jc.Image, c.Image)
		}
		jm := mountAt(jc.VolumeMounts, dir)
		if jm == nil || jm.ReadOnly {
			t.Fatalf("CronJob: no writable mount at %s", dir)
		}
		if jv := volumeNamed(jpod.Volumes, jm.Name); jv.PersistentVolumeClaim == nil || jv.PersistentVolumeClaim.ClaimName != claim.ClaimName {
			t.Error("the CronJob writes another index volume than the Deployment reads")
		}
		if pm := mountAt(jc.VolumeMounts, "/photos"); pm == nil || !pm.ReadOnly {
			t.Error("CronJob: originals not mounted read-only")
		}
		if sc := jpod.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.FSGroup == nil {
			t.Error("CronJob pod not runAsNonRoot with an fsGroup for the index volume")
		}
		if sc := jc.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Error("CronJob root filesystem not read-only")
		}
		if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
			t.Error("two index runs may overlap")
		}
	} else if r.cronJob != nil {
		t.Error("a CronJob but no index_file")
	}

	// Services select the pods and target named container ports.
	portNames := map[string]int32{}
	for _, p := range c.Ports {
		portNames[p.Name] = p.ContainerPort
	}
	var admin *corev1.Service
	for _, s := range r.services {
		if !selects(s.Spec.Selector, labels) {
			t.Errorf("Service %s selects %v, not the pods %v", s.Name, s.Spec.Selector, labels)
		}
		for _, p := range s.Spec.Ports {
			if _, ok := portNames[p.TargetPort.StrVal]; !ok {
				t.Errorf("Service %s targets port %q, which the container does not name", s.Name, p.TargetPort.String())
			}
			if p.TargetPort.StrVal == "admin" {
				admin = s
			}
		}
	}
	if len(r.services) != 2 || admin == nil {
		t.Errorf("want an image Service and an admin Service, got %d", len(r.services))
	}

	// Optional parts, each consistent with the Deployment.
	if h := r.hpa; h != nil {
		if h.Spec.ScaleTargetRef.Kind != "Deployment" || h.Spec.ScaleTargetRef.Name != d.Name {
			t.Errorf("HPA scales %s/%s, not the Deployment %s", h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name, d.Name)
		}
		if len(h.Spec.Metrics) != 1 || h.Spec.Metrics[0].Resource == nil || h.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU {
			t.Error("HPA not on CPU")
		}
		if d.Spec.Replicas != nil {
			t.Error("Deployment sets replicas although the HPA owns them")
		}
	} else if d.Spec.Replicas == nil {
		t.Error("no HPA and no replicas")
	}
	if p := r.pdb; p != nil && !selects(p.Spec.Selector.MatchLabels, labels) {
		t.Errorf("PDB selects %v, not the pods", p.Spec.Selector.MatchLabels)
	}
	if n := r.netpol; n != nil {
		if !selects(n.Spec.PodSelector.MatchLabels, labels) {
			t.Errorf("NetworkPolicy selects %v, not the pods", n.Spec.PodSelector.MatchLabels)
		}
		open := map[int32]bool{}
		for _, in := range n.Spec.Ingress {
			for _, p := range in.Ports {
				open[p.Port.IntVal] = true
			}
		}
		if !open[portNames["http"]] || !open[portNames["admin"]] || len(open) != 2 {
			t.Errorf("NetworkPolicy opens ports %v, want the container's %d and %d", open, portNames["http"], portNames["admin"])
		}
		if len(n.Spec.Egress) != 0 || len(n.Spec.PolicyTypes) != 2 {
			t.Error("NetworkPolicy allows egress")
		}
	}
	if sm := r.monitor; sm != nil {
		if admin == nil || !selects(sm.Spec.Selector.MatchLabels, admin.Labels) {
			t.Errorf("ServiceMonitor selects %v, not the admin Service", sm.Spec.Selector.MatchLabels)
		}
		for _, s := range r.services {
			if s != admin && selects(sm.Spec.Selector.MatchLabels, s.Labels) {
				t.Errorf("ServiceMonitor also selects Service %s (no admin port there)", s.Name)
			}
		}
	}
	return cfg
}

func toInt(v any) int {
	switch n := v.(type) {
	case float64:
		return int(n)
	case int:
		return n
	case int64:
		return int(n)
	}
	return 0
}

// Every manifest `helm template` renders, for each values set, decodes
// strictly into the Kubernetes API types and agrees with the code and
// with itself.
func TestHelmChartRendersValidManifests(t *testing.T) {
	want := map[string][]string{
		"defaults": {"ConfigMap", "CronJob", "Deployment", "HorizontalPodAutoscaler", "NetworkPolicy", "PersistentVolumeClaim", "PodDisruptionBudget", "Service", "Service"},
		"full-values": {"ConfigMap", "CronJob", "Deployment", "HorizontalPodAutoscaler", "NetworkPolicy", "PersistentVolumeClaim", "PersistentVolumeClaim",
			"PodDisruptionBudget", "Secret", "Service", "Service", "ServiceMonitor"},
		"minimal-values": {"ConfigMap", "Deployment", "Service", "Service"},
	}
	for _, v := range valueSets {
		t.Run(setName(v), func(t *testing.T) {
			r := decodeAll(t, render(t, v))
			if !reflect.DeepEqual(r.kinds, want[setName(v)]) {
				t.Errorf("kinds %v, want %v", r.kinds, want[setName(v)])
			}
			r.check(t)
		})
	}
	// The full set's own values came through.
	r := decodeAll(t, render(t, "ci/full-values.yaml"))
	cfg := r.check(t)
	c := r.deployment.Spec.Template.Spec.Containers[0]
	if c.Image != "registry.example.com/thumbd:v1.0.0" || cfg["listen"] != "0.0.0.0:8081" || cfg["disk_cache_mb"] != float64(4096) || cfg["negotiate"] != true {
		t.Errorf("full values not applied: image %s, config %v", c.Image, cfg)
	}
	if o := volumeNamed(r.deployment.Spec.Template.Spec.Volumes, "photos"); o.NFS == nil || o.PersistentVolumeClaim != nil {
		t.Errorf("originals.volume did not replace the claim: %+v", o.VolumeSource)
	}
}

// The chart's defaults are the Kustomize base: the same config.yaml, the
// same container (probes, resources, lifecycle, security), scaling and
// disruption budget, and index schedule.
func TestHelmDefaultsMatchKustomize(t *testing.T) {
	h := decodeAll(t, render(t, ""))
	kd, kcfg := deployment(t)
	hcfg := h.check(t)
	if !reflect.DeepEqual(hcfg, kcfg) {
		hb, _ := yaml.Marshal(hcfg)
		kb, _ := yaml.Marshal(kcfg)
		t.Errorf("config.yaml differs:\nhelm:\n%s\nkustomize:\n%s", hb, kb)
	}
	hc, kc := h.deployment.Spec.Template.Spec.Containers[0], kd.Spec.Template.Spec.Containers[0]
	for what, pair := range map[string][2]any{
		"ports":               {hc.Ports, kc.Ports},
		"readinessProbe":      {hc.ReadinessProbe, kc.ReadinessProbe},
		"livenessProbe":       {hc.LivenessProbe, kc.LivenessProbe},
		"lifecycle":           {hc.Lifecycle, kc.Lifecycle},
		"resources":           {hc.Resources, kc.Resources},
		"securityContext":     {hc.SecurityContext, kc.SecurityContext},
		"env":                 {hc.Env[1:], kc.Env[1:]}, // THUMBD_KEYS' Secret is named per release
		"args":                {hc.Args, kc.Args},
		"pod securityContext": {h.deployment.Spec.Template.Spec.SecurityContext, kd.Spec.Template.Spec.SecurityContext},
		"grace period":        {h.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds, kd.Spec.Template.Spec.TerminationGracePeriodSeconds},
	} {
		if !reflect.DeepEqual(pair[0], pair[1]) {
			t.Errorf("%s: helm %+v, kustomize %+v", what, pair[0], pair[1])
		}
	}
	var khpa autoscalingv2.HorizontalPodAutoscaler
	var kpdb policyv1.PodDisruptionBudget
	var kcj batchv1.CronJob
	for _, m := range manifests(t) {
		switch m.kind {
		case "HorizontalPodAutoscaler":
			strict(t, m.json, &khpa)
		case "PodDisruptionBudget":
			strict(t, m.json, &kpdb)
		case "CronJob":
			strict(t, m.json, &kcj)
		}
	}
	if !reflect.DeepEqual(h.hpa.Spec.Metrics, khpa.Spec.Metrics) || *h.hpa.Spec.MinReplicas != *khpa.Spec.MinReplicas || h.hpa.Spec.MaxReplicas != khpa.Spec.MaxReplicas {
		t.Errorf("HPA: helm %+v, kustomize %+v", h.hpa.Spec, khpa.Spec)
	}
	if !reflect.DeepEqual(h.pdb.Spec.MinAvailable, kpdb.Spec.MinAvailable) {
		t.Errorf("PDB minAvailable: helm %v, kustomize %v", h.pdb.Spec.MinAvailable, kpdb.Spec.MinAvailable)
	}
	if h.cronJob.Spec.Schedule != kcj.Spec.Schedule {
		t.Errorf("index schedule: helm %s, kustomize %s", h.cronJob.Spec.Schedule, kcj.Spec.Schedule)
	}
}

// Values that would break what the chart owns are refused at render time
// with a message naming the value.
func TestHelmRefusesBrokenValues(t *testing.T) {
	for set, want := range map[string]string{
		"config.listen=0.0.0.0:1234": "config.listen is set by the chart",
		"config.keys={a}":            "config.keys is set by the chart",
		"keys.existingSecret=":       "keys.existingSecret",
		"keys.create=true":           "keys.value",
	} {
		args := []string{"template", "thumbd", chart, "--set", set}
		if _, err := runHelm(t, args...); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--set %s: %v, want an error naming %q", set, err, want)
		}
	}
}
