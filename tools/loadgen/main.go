// Command loadgen drives a bounded load at one or more URLs on loopback and
// prints throughput and latency percentiles. It refuses non-loopback hosts:
// load tests here never leave the machine.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	n := flag.Int("n", 100, "total requests (upper bound)")
	c := flag.Int("c", 1, "concurrent clients")
	d := flag.Duration("d", 30*time.Second, "time limit")
	warm := flag.Int("warmup", 2, "untimed requests first")
	minN := flag.Int("min", 0, "requests to finish even past the time limit (slow transforms still get a sample)")
	label := flag.String("label", "thumbd", "label printed with the result")
	var headers headerFlags
	flag.Var(&headers, "H", "request header 'Name: value' (repeatable)")
	flag.Parse()
	urls := flag.Args()
	if len(urls) == 0 {
		fmt.Fprintln(os.Stderr, "usage: loadgen [-n N] [-c C] [-d 30s] URL...")
		os.Exit(2)
	}
	for _, u := range urls {
		pu, err := url.Parse(u)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(2)
		}
		ip := net.ParseIP(pu.Hostname())
		if pu.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			fmt.Fprintln(os.Stderr, "loadgen: refusing non-loopback host", pu.Hostname())
			os.Exit(2)
		}
	}
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *c}}
	get := func(u string) (int, error) {
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			return 0, err
		}
		for _, h := range headers {
			k, v, _ := strings.Cut(h, ":")
			req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, err
	}
	for i := 0; i < *warm; i++ {
		get(urls[i%len(urls)])
	}
	var (
		next   atomic.Int64
		mu     sync.Mutex
		lat    []float64
		errs   int
		status = map[int]int{}
		wg     sync.WaitGroup
	)
	deadline := time.Now().Add(*d)
	start := time.Now()
	for w := 0; w < *c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(*n) || (i >= int64(*minN) && time.Now().After(deadline)) {
					return
				}
				t := time.Now()
				code, err := get(urls[int(i)%len(urls)])
				ms := float64(time.Since(t).Microseconds()) / 1000
				mu.Lock()
				if err != nil {
					errs++
				} else {
					status[code]++
					lat = append(lat, ms)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	sort.Float64s(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return lat[int(p*float64(len(lat)-1))]
	}
	fmt.Printf("label=%s n=%d c=%d elapsed=%.2fs req_per_s=%.2f lat_ms_p50=%.1f p90=%.1f p99=%.1f errors=%d statuses=%v\n",
		*label, len(lat), *c, el, float64(len(lat))/el, pct(0.5), pct(0.9), pct(0.99), errs, status)
}

type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }
