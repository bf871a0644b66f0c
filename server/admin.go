package server

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// AdminGuard protects the admin listener (metrics, probes, pprof and the
// link picker, which mints links) from web pages in the operator's
// browser:
//   - DNS rebinding: a page on attacker.example whose name later resolves
//     to 127.0.0.1 sends Host: attacker.example. Only IP literals (which
//     a rebinding cannot forge: the browser treats them as their own
//     origin), localhost and the configured admin_hosts are answered; the
//     rest get 421.
//   - Cross-site form posts: a state-changing request whose Origin is not
//     this host, or that the browser marks cross-site, gets 403.
func AdminGuard(next http.Handler, hosts []string) http.Handler {
	allowed := map[string]bool{}
	for _, h := range hosts {
		allowed[strings.ToLower(strings.TrimSuffix(h, "."))] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !adminHostAllowed(r.Host, allowed) {
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "host not allowed on the admin listener (see admin_hosts)", http.StatusMisdirectedRequest)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions && crossSite(r) {
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "cross-site request refused", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func adminHostAllowed(hostport string, allowed map[string]bool) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "" {
		return false
	}
	if net.ParseIP(host) != nil {
		return true
	}
	return host == "localhost" || strings.HasSuffix(host, ".localhost") || allowed[host]
}

// crossSite reports a request a browser sent on behalf of another site.
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	if err != nil || origin == "null" {
		return true
	}
	return !strings.EqualFold(u.Host, r.Host)
}
