package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/thumbd/thumbd/signing"
	"github.com/thumbd/thumbd/storage"
	"github.com/thumbd/thumbd/thumburl"
	"github.com/thumbd/thumbd/transform"
	"github.com/thumbd/thumbd/variant"
	"github.com/thumbd/thumbd/video"
)

// Every error the request path can produce maps to one status and a short
// fixed body, however deeply it is wrapped; anything unknown is a 500 that
// says nothing about its cause.
func TestFailureMapsEveryError(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("outer: %w", fmt.Errorf("inner /secret/path: %w", err)) }
	for _, tc := range []struct {
		err    error
		status int
		body   string
	}{
		{thumburl.ErrMalformed, 400, "malformed URL"},
		{errOEmbedQuery, 400, "bad oEmbed parameters"},
		{errNotOurPage, 404, "not a page of this server"},
		{errOEmbedFormat, 501, "only format=json is implemented"},
		{variant.ErrUnknownSize, 400, "unknown size"},
		{errCustomTooLarge, 400, "size too large"},
		{signing.ErrExpired, 403, "link expired"},
		{signing.ErrBadToken, 403, "invalid token"},
		{errRevoked, 410, "link revoked"},
		{storage.ErrNotFound, 404, "not found"},
		{video.ErrNoFFmpeg, 415, "video posters need ffmpeg, which is not installed"},
		{errWrongFormat, 415, "video is not in that format"},
		{video.ErrUnknown, 415, "unsupported or damaged video"},
		{transform.ErrUnsupported, 415, "unsupported or damaged image"},
		{transform.ErrTooLarge, 422, "image too large"},
		{storage.ErrTooLarge, 422, "image too large"},
		{errOverloaded, 503, "busy, retry later"},
		{context.DeadlineExceeded, 503, "busy, retry later"},
		{errTooSlow, 503, "busy, retry later"},
		{context.Canceled, 499, "client closed request"},
		{transform.ErrPrivate, 500, "internal error"},
		{errors.New("something else"), 500, "internal error"},
		{echo.NewHTTPError(http.StatusMethodNotAllowed), 405, "Method Not Allowed"},
	} {
		for _, err := range []error{tc.err, wrap(tc.err)} {
			status, body := failure(err)
			if status != tc.status || body != tc.body {
				t.Errorf("failure(%v) = %d %q; want %d %q", err, status, body, tc.status, tc.body)
			}
			if strings.Contains(body, "secret") {
				t.Errorf("failure(%v) leaks the wrapped message: %q", err, body)
			}
		}
	}
}

func TestErrorCacheControl(t *testing.T) {
	for status, want := range map[int]string{
		400: "public, max-age=60", 403: "public, max-age=60", 404: "public, max-age=60", 410: "public, max-age=60",
		415: "public, max-age=60", 422: "public, max-age=60",
		412: "no-store", 416: "no-store", 500: "no-store", 503: "no-store",
	} {
		if got := errorCacheControl(status); got != want {
			t.Errorf("errorCacheControl(%d) = %q; want %q", status, got, want)
		}
	}
}

func TestNegotiate(t *testing.T) {
	for _, tc := range []struct {
		accept string
		want   variant.Format
	}{
		{"", variant.JPEG},
		{"*/*", variant.JPEG},
		{"image/*", variant.JPEG},
		{"image/webp,*/*", variant.WebP},
		{"image/avif,image/webp,image/apng,*/*;q=0.8", variant.AVIF}, // Chrome
		{"image/avif;q=0, image/webp", variant.WebP},
		{"image/avif;q=0.0,image/webp;q=0.000", variant.JPEG},
		{"image/avif;q=0.5", variant.AVIF},
		{"IMAGE/AVIF", variant.AVIF},
		{"image/avif;q=abc", variant.JPEG}, // an unreadable weight is not consent
		{"image/avif;q=-1", variant.JPEG},
		{"image/avif;q=NaN", variant.JPEG},
		{"image/avif ; Q=1", variant.AVIF},
		{"text/html,image/jpeg", variant.JPEG},
	} {
		if got := negotiate(tc.accept); got != tc.want {
			t.Errorf("negotiate(%q) = %v; want %v", tc.accept, got, tc.want)
		}
	}
}

func TestETagMatches(t *testing.T) {
	const tag = `"abc123"`
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{"", false},
		{`"abc123"`, true},
		{`W/"abc123"`, true}, // If-None-Match uses the weak comparison
		{`"other", "abc123"`, true},
		{` "other" ,W/"abc123" `, true},
		{"*", true},
		{`"abc12"`, false},
		{`abc123`, false},
		{`"ABC123"`, false},
		{`"other"`, false},
	} {
		if got := etagMatches(tc.header, tag); got != tc.want {
			t.Errorf("etagMatches(%q) = %v; want %v", tc.header, got, tc.want)
		}
	}
}
