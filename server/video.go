package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/thumbd/thumbd/storage"
	"github.com/thumbd/thumbd/thumburl"
	"github.com/thumbd/thumbd/video"
)

// errWrongFormat: the URL names a video format the file is not.
var errWrongFormat = errors.New("video is not in the requested format")

// video streams an original video as it is (no transcoding), with HTTP
// Range support (206, multiple ranges, If-Range) from net/http's
// ServeContent. The format segment must match the codec the file really
// carries.
func (s *Server) video(c echo.Context) error {
	ctx := c.Request().Context()
	hash, token, format := c.Param("hash"), c.Param("token"), c.Param("format")
	if !thumburl.IsHash(hash) {
		return fmt.Errorf("%w: hash must be 40 lowercase hex digits", thumburl.ErrMalformed)
	}
	if !video.IsFormat(format) {
		return fmt.Errorf("%w: video format %.10q", thumburl.ErrMalformed, format)
	}
	expires, err := s.signer.Load().Verify(hash, format, token, s.now())
	if err != nil {
		return err
	}
	if s.revoked.Load().Revoked(hash, format) {
		return errRevoked
	}
	orig, err := s.index.Lookup(ctx, hash)
	if err != nil {
		return err
	}
	f, fi, err := s.index.Open(ctx, orig)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := video.Probe(f, fi.Size())
	if err != nil {
		return err
	}
	if info.Codec != format {
		return fmt.Errorf("%w: %s is %s/%s", errWrongFormat, format, info.Container, info.Codec)
	}
	h := c.Response().Header()
	h.Set("Content-Type", info.ContentType)
	h.Set("Cache-Control", s.cacheControl(expires))
	if !expires.IsZero() {
		h.Set("Expires", expires.UTC().Format(http.TimeFormat))
	}
	// The hash names the bytes: a strong validator for If-Range and 304s.
	h.Set("ETag", `"`+hash+`"`)
	c.Set(cacheKey, "stream")
	http.ServeContent(c.Response(), c.Request(), "", time.Time{}, f)
	return nil
}

// source returns the bytes a variant is made from: the original image, or
// a poster frame for a video.
func (s *Server) source(ctx context.Context, orig storage.Original) ([]byte, error) {
	if !video.IsVideoName(orig.Path) {
		return s.index.Read(ctx, orig)
	}
	f, _, err := s.index.Open(ctx, orig)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return video.Poster(ctx, f)
}
