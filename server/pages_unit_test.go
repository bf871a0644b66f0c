package server

import (
	"net/http"
	"testing"
)

// The access log keeps page vocabulary and never a token or the text a
// page link carries, in any position or spelling.
func TestPageLogPath(t *testing.T) {
	const (
		h   = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
		tok = "-fRuExvwR-bfB1DlSdxViCDz"
		id  = "0123456789abcdef01234567"
	)
	for _, tc := range []struct{ uri, want string }{
		{"/p/" + h + "/" + tok, "/p/" + h + "/…"},
		{"/p/" + h + "/" + tok + "/~U2VjcmV0~Q2FwdGlvbg", "/p/" + h + "/…/…"},
		{"/p/" + h + "/" + tok + "/fit_1280.jpg", "/p/" + h + "/…/fit_1280.jpg"},
		{"/a/" + id + "/" + tok + "/page/2", "/a/" + id + "/…/page/2"},
		{"/a/" + id + "/" + tok + "/album.json", "/a/" + id + "/…/album.json"},
		{"/a/" + id + "/" + tok + "/17/tile_224", "/a/" + id + "/…/17/tile_224"},
		{"/a/" + id + "/" + tok + "/" + h, "/a/" + id + "/…/" + h},
		{"/a/" + id + "//" + tok, "/a/" + id + "//…"},
		{"/oembed?url=https%3A%2F%2Fx%2Fp%2F" + h + "%2F" + tok, "/oembed"},
		{"/p/" + h + "/123456789012345678901234", "/p/" + h + "/…"}, // a token of digits
		{"/a/" + id + "/" + id, "/a/" + id + "/…"},                  // a token shaped like an album id
	} {
		r := &http.Request{RequestURI: tc.uri}
		if got := logPath(r); got != tc.want {
			t.Errorf("logPath(%s) = %s; want %s", tc.uri, got, tc.want)
		}
	}
}

// Page routes have their own bounded metrics labels.
func TestPageRouteLabel(t *testing.T) {
	if r := pageRoute("/p/:hash/:token"); r != "page" {
		t.Error(r)
	}
	if r := pageRoute("/t/:hash/:token/:size"); r != "" {
		t.Error(r)
	}
}
