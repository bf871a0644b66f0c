package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/thumbd/thumbd/metastrip"
	"github.com/thumbd/thumbd/signing"
	"github.com/thumbd/thumbd/storage"
	"github.com/thumbd/thumbd/thumburl"
	"github.com/thumbd/thumbd/transform"
	"github.com/thumbd/thumbd/variant"
	"github.com/thumbd/thumbd/video"
)

var (
	// errOverloaded: every worker is busy and the wait queue is full.
	errOverloaded = errors.New("overloaded")
	// errRevoked: the photo (or this size of it) is on the revoked list.
	errRevoked = errors.New("revoked")
	// errCustomTooLarge: a custom size beyond custom_max.
	errCustomTooLarge = errors.New("custom size beyond the configured maximum")
)

// failure is the one place errors become statuses. Bodies are short, fixed
// texts: never a path, a library message or a stack trace.
func failure(err error) (status int, body string) {
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		return he.Code, http.StatusText(he.Code)
	case errors.Is(err, errOEmbedFormat):
		return http.StatusNotImplemented, "only format=json is implemented"
	case errors.Is(err, errOEmbedQuery):
		return http.StatusBadRequest, "bad oEmbed parameters"
	case errors.Is(err, errNotOurPage):
		return http.StatusNotFound, "not a page of this server"
	case errors.Is(err, thumburl.ErrMalformed):
		return http.StatusBadRequest, "malformed URL"
	case errors.Is(err, variant.ErrUnknownSize):
		return http.StatusBadRequest, "unknown size"
	case errors.Is(err, errCustomTooLarge):
		return http.StatusBadRequest, "size too large"
	case errors.Is(err, signing.ErrExpired):
		return http.StatusForbidden, "link expired"
	case errors.Is(err, signing.ErrBadToken):
		return http.StatusForbidden, "invalid token"
	case errors.Is(err, errRevoked):
		return http.StatusGone, "link revoked"
	case errors.Is(err, storage.ErrNotFound):
		return http.StatusNotFound, "not found"
	case errors.Is(err, video.ErrNoFFmpeg):
		return http.StatusUnsupportedMediaType, "video posters need ffmpeg, which is not installed"
	case errors.Is(err, errWrongFormat):
		return http.StatusUnsupportedMediaType, "video is not in that format"
	case errors.Is(err, video.ErrUnknown):
		return http.StatusUnsupportedMediaType, "unsupported or damaged video"
	case errors.Is(err, storage.ErrNoPreview):
		return http.StatusUnsupportedMediaType, "RAW file without a usable embedded preview"
	case errors.Is(err, metastrip.ErrMalformed):
		// A RAW's damaged preview, found while storage stripped it.
		return http.StatusUnsupportedMediaType, "unsupported or damaged image"
	case errors.Is(err, transform.ErrUnsupported):
		return http.StatusUnsupportedMediaType, "unsupported or damaged image"
	case errors.Is(err, transform.ErrTooLarge), errors.Is(err, storage.ErrTooLarge):
		return http.StatusUnprocessableEntity, "image too large"
	case errors.Is(err, errOverloaded), errors.Is(err, context.DeadlineExceeded), errors.Is(err, errTooSlow):
		return http.StatusServiceUnavailable, "busy, retry later"
	case errors.Is(err, context.Canceled):
		// The client left; nobody reads this.
		return 499, "client closed request"
	}
	return http.StatusInternalServerError, "internal error"
}

// errorCacheControl keeps errors out of caches for long: a CDN may hold a
// 4xx for a minute (a new photo appears once indexed), never a 5xx.
func errorCacheControl(status int) string {
	switch {
	case status >= 500, status == http.StatusPreconditionFailed, status == http.StatusRequestedRangeNotSatisfiable:
		// 412 and 416 depend on the request's own validators and Range,
		// which no cache keys on.
		return "no-store"
	}
	return "public, max-age=60"
}

// handleError is Echo's error handler: plain text, statuses from failure.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, body := failure(err)
	if errors.Is(err, errOverloaded) {
		s.metrics.rejected.Inc()
	}
	if status == http.StatusServiceUnavailable && errors.Is(err, context.DeadlineExceeded) {
		stage := "wait"
		if errors.Is(err, errTooSlow) {
			stage = "render"
			if state(c).outcome == outcomeFailed {
				stage = "remembered"
			}
		}
		s.metrics.deadline.WithLabelValues(stage).Inc()
	}
	if status >= 500 && status != http.StatusServiceUnavailable && status != http.StatusNotImplemented && status != 499 {
		s.log.ErrorContext(c.Request().Context(), "request failed", "err", err, "id", requestID(c))
	} else if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
		s.log.DebugContext(c.Request().Context(), "request refused", "status", status, "err", err)
	}
	h := c.Response().Header()
	h.Set("Cache-Control", errorCacheControl(status))
	h.Del("ETag")
	h.Del("Expires")
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	_ = c.String(status, body+"\n")
}
