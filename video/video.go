// Package video identifies a video file's container and video codec by
// reading its boxes (MP4/MOV) or EBML elements (WebM/Matroska), without
// decoding anything, so thumbd can refuse a URL whose format does not match
// the file and send the right Content-Type. It also extracts poster frames
// with a jailed ffmpeg (Poster) and blanks metadata in streamed videos
// without moving a byte (Scrub, NewScrubbed).
package video

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// ErrUnknown: not a video container this package understands.
var ErrUnknown = errors.New("not a recognised video")

// Info is what the file really is.
type Info struct {
	Container   string // "mp4", "mov", "webm", "mkv"
	Codec       string // format name as in URLs: avc, hevc, vp8, vp9, av1
	ContentType string
}

// Formats are the URL format names, as PhotoPrism uses them.
var Formats = []string{"avc", "hevc", "vp8", "vp9", "av1"}

// IsFormat reports whether s is a video format name.
func IsFormat(s string) bool {
	for _, f := range Formats {
		if f == s {
			return true
		}
	}
	return false
}

var exts = map[string]bool{".mp4": true, ".m4v": true, ".mov": true, ".webm": true, ".mkv": true}

// IsVideoName reports whether a file name has a video extension.
func IsVideoName(name string) bool { return exts[strings.ToLower(filepath.Ext(name))] }

// mp4Codecs maps sample entry types to format names.
var mp4Codecs = map[string]string{
	"avc1": "avc", "avc3": "avc", "hvc1": "hevc", "hev1": "hevc",
	"vp08": "vp8", "vp09": "vp9", "av01": "av1",
}

var mkvCodecs = map[string]string{
	"V_MPEG4/ISO/AVC": "avc", "V_MPEGH/ISO/HEVC": "hevc",
	"V_VP8": "vp8", "V_VP9": "vp9", "V_AV1": "av1",
}

// Probe reads r (size bytes) and returns the container and video codec.
func Probe(r io.ReaderAt, size int64) (Info, error) {
	head := make([]byte, 12)
	if _, err := r.ReadAt(head, 0); err != nil {
		return Info{}, ErrUnknown
	}
	switch {
	case string(head[4:8]) == "ftyp":
		return probeMP4(r, size, string(head[8:12]))
	case binary.BigEndian.Uint32(head) == 0x1A45DFA3:
		return probeMKV(r, size)
	}
	return Info{}, ErrUnknown
}

// box reads the header at off: type, payload offset and end.
func box(r io.ReaderAt, off, limit int64) (typ string, body, end int64, err error) {
	var h [16]byte
	if off+8 > limit {
		return "", 0, 0, io.ErrUnexpectedEOF
	}
	if _, err := r.ReadAt(h[:8], off); err != nil {
		return "", 0, 0, err
	}
	n := int64(binary.BigEndian.Uint32(h[:4]))
	typ, body = string(h[4:8]), off+8
	switch n {
	case 0:
		n = limit - off
	case 1:
		if _, err := r.ReadAt(h[8:16], off+8); err != nil {
			return "", 0, 0, err
		}
		n, body = int64(binary.BigEndian.Uint64(h[8:16])), off+16
	}
	if n < body-off || off+n > limit {
		return "", 0, 0, fmt.Errorf("%w: box %q overruns", ErrUnknown, typ)
	}
	return typ, body, off + n, nil
}

func probeMP4(r io.ReaderAt, size int64, brand string) (Info, error) {
	info := Info{Container: "mp4", ContentType: "video/mp4"}
	if brand == "qt  " {
		info.Container, info.ContentType = "mov", "video/quicktime"
	}
	// moov (which may sit after mdat) > trak > mdia > hdlr ('vide') and
	// mdia > minf > stbl > stsd > first sample entry (its type is the codec).
	moov, ok := child(r, 0, size, "moov")
	if !ok {
		return Info{}, fmt.Errorf("%w: no moov box", ErrUnknown)
	}
	for off := moov[0]; off < moov[1]; {
		typ, body, next, err := box(r, off, moov[1])
		if err != nil {
			return Info{}, err
		}
		off = next
		if typ != "trak" {
			continue
		}
		mdia, ok := child(r, body, next, "mdia")
		if !ok {
			continue
		}
		hdlr, ok := child(r, mdia[0], mdia[1], "hdlr")
		var h [12]byte
		if !ok || hdlr[1]-hdlr[0] < 12 {
			continue
		}
		r.ReadAt(h[:], hdlr[0])
		if string(h[8:12]) != "vide" {
			continue
		}
		stsd, ok := path(r, mdia, "minf", "stbl", "stsd")
		if !ok {
			continue
		}
		// stsd: version/flags (4), entry count (4), then sample entries.
		et, _, _, err := box(r, stsd[0]+8, stsd[1])
		if err != nil {
			return Info{}, err
		}
		if c, ok := mp4Codecs[et]; ok {
			info.Codec = c
			return info, nil
		}
		return Info{}, fmt.Errorf("%w: video codec %q", ErrUnknown, et)
	}
	return Info{}, fmt.Errorf("%w: no video track", ErrUnknown)
}

// child finds the first box of type typ in [off, end) and returns its
// payload range.
func child(r io.ReaderAt, off, end int64, typ string) ([2]int64, bool) {
	for off < end {
		t, body, next, err := box(r, off, end)
		if err != nil {
			return [2]int64{}, false
		}
		if t == typ {
			return [2]int64{body, next}, true
		}
		off = next
	}
	return [2]int64{}, false
}

// path follows nested boxes from the payload range in.
func path(r io.ReaderAt, in [2]int64, types ...string) ([2]int64, bool) {
	for _, t := range types {
		var ok bool
		if in, ok = child(r, in[0], in[1], t); !ok {
			return in, false
		}
	}
	return in, true
}

// EBML IDs on the way to the codec.
const (
	idSegment    = 0x18538067
	idTracks     = 0x1654AE6B
	idTrackEntry = 0xAE
	idTrackType  = 0x83
	idCodecID    = 0x86
	idCluster    = 0x1F43B675
	idDocType    = 0x4282
	idEBML       = 0x1A45DFA3
)

// vint reads an EBML variable-length integer at off. keepMarker keeps the
// length marker bit (element IDs) or clears it (sizes).
func vint(r io.ReaderAt, off int64, keepMarker bool) (v uint64, n int, err error) {
	var b [8]byte
	if _, err := r.ReadAt(b[:1], off); err != nil {
		return 0, 0, err
	}
	n = 1
	for mask := byte(0x80); n <= 8 && b[0]&mask == 0; mask >>= 1 {
		n++
	}
	if n > 8 {
		return 0, 0, ErrUnknown
	}
	if _, err := r.ReadAt(b[1:n], off+1); err != nil && n > 1 {
		return 0, 0, err
	}
	v = uint64(b[0])
	if !keepMarker {
		v &= uint64(0xFF >> n)
	}
	for i := 1; i < n; i++ {
		v = v<<8 | uint64(b[i])
	}
	return v, n, nil
}

func probeMKV(r io.ReaderAt, size int64) (Info, error) {
	info := Info{Container: "mkv", ContentType: "video/x-matroska"}
	var codec string
	var walk func(off, end int64, depth int) error
	walk = func(off, end int64, depth int) error {
		trackType, trackCodec := uint64(0), ""
		for off < end {
			id, n1, err := vint(r, off, true)
			if err != nil {
				return err
			}
			sz, n2, err := vint(r, off+int64(n1), false)
			if err != nil {
				return err
			}
			body := off + int64(n1+n2)
			next := body + int64(sz)
			if sz == uint64(1)<<(7*n2)-1 || next > end { // unknown size
				next = end
			}
			switch id {
			case idEBML, idSegment, idTracks, idTrackEntry:
				if depth > 6 {
					return ErrUnknown
				}
				if err := walk(body, next, depth+1); err != nil {
					return err
				}
				if codec != "" {
					return nil
				}
			case idDocType:
				if sz <= 16 {
					b := make([]byte, sz)
					r.ReadAt(b, body)
					if string(b) == "webm" {
						info.Container, info.ContentType = "webm", "video/webm"
					}
				}
			case idTrackType:
				b := make([]byte, min(sz, 8))
				r.ReadAt(b, body)
				for _, x := range b {
					trackType = trackType<<8 | uint64(x)
				}
			case idCodecID:
				if sz <= 64 {
					b := make([]byte, sz)
					r.ReadAt(b, body)
					trackCodec = string(b)
				}
			case idCluster:
				return nil // media data: the tracks came before
			}
			off = next
		}
		if trackType == 1 {
			if c, ok := mkvCodecs[trackCodec]; ok {
				codec = c
			}
		}
		return nil
	}
	if err := walk(0, size, 0); err != nil {
		return Info{}, err
	}
	if codec == "" {
		return Info{}, fmt.Errorf("%w: no video track with a known codec", ErrUnknown)
	}
	info.Codec = codec
	return info, nil
}
