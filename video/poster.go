package video

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// ErrNoFFmpeg: poster frames need ffmpeg (and util-linux prlimit, which
// jails it), and one of them is not installed.
var ErrNoFFmpeg = errors.New("ffmpeg not installed")

// Defaults for the zero fields of Limits.
const (
	// DefaultMemoryBytes is the address space of one ffmpeg run. Measured
	// with Debian's ffmpeg 5.1 (one thread, thumbnail=30 keeps 30 decoded
	// frames): 4K 8-bit H.264, VP9 and AV1 need about 700 MiB, 4K 8-bit HEVC
	// 740 MiB and 4K 10-bit HEVC (iPhone HDR) 1.2 GiB; startup alone is
	// 270 MiB. 2 GiB leaves a margin over the largest; 8K does not fit.
	DefaultMemoryBytes = 2 << 30
	// DefaultCPUSeconds: a 4K 10-bit HEVC poster takes about 5 s of CPU.
	DefaultCPUSeconds = 20
	// DefaultMaxOutputBytes bounds the PNG (a 4K RGB frame is at most 25 MB
	// uncompressed).
	DefaultMaxOutputBytes = 64 << 20
)

// Limits bound one ffmpeg run; zero fields take the defaults above.
type Limits struct {
	MemoryBytes    int64 // address space (RLIMIT_AS)
	CPUSeconds     int   // CPU time (RLIMIT_CPU), then SIGXCPU/SIGKILL
	MaxOutputBytes int64 // PNG bytes read from ffmpeg's stdout
}

func (l Limits) withDefaults() Limits {
	if l.MemoryBytes <= 0 {
		l.MemoryBytes = DefaultMemoryBytes
	}
	if l.CPUSeconds <= 0 {
		l.CPUSeconds = DefaultCPUSeconds
	}
	if l.MaxOutputBytes <= 0 {
		l.MaxOutputBytes = DefaultMaxOutputBytes
	}
	return l
}

// maxMoov bounds the moov box rewritten in memory for a faststart view: a
// 2-hour camera file has a few MB of sample tables.
const maxMoov = 64 << 20

// posterInput identifies the container with Probe (never ffmpeg's content
// sniffing, which follows playlists and scripts to other files) and returns
// the byte stream to feed ffmpeg's stdin and the demuxer to force.
func posterInput(r io.ReaderAt, size int64) (io.Reader, string, error) {
	info, err := Probe(r, size)
	if err != nil {
		if !errors.Is(err, ErrUnknown) {
			err = fmt.Errorf("%w: %v", ErrUnknown, err)
		}
		return nil, "", err
	}
	switch info.Container {
	case "mkv", "webm":
		// Matroska puts its headers first and the demuxer reads a pipe as is.
		return io.NewSectionReader(r, 0, size), "matroska", nil
	case "mp4", "mov":
		s, err := movStream(r, size)
		return s, "mov", err
	}
	return nil, "", fmt.Errorf("%w: container %q", ErrUnknown, info.Container)
}

// movStream returns the file as ffmpeg can read it from a pipe, which it
// cannot seek backwards in: as is when moov precedes the media data, else a
// "faststart" view (ftyp, moov with shifted chunk offsets, the rest in
// order). Only the moov is held in memory; the rest streams from r.
func movStream(r io.ReaderAt, size int64) (io.Reader, error) {
	ftypEnd, moovOff, moovEnd := int64(-1), int64(-1), int64(-1)
	mdatFirst := false
	// Only the boxes up to moov matter: what follows streams unchanged, so
	// a truncated mdat after the moov still gives a poster.
	for off, n := int64(0), 0; off < size && moovOff < 0; n++ {
		if n > maxBoxes {
			return nil, fmt.Errorf("%w: too many boxes", ErrUnknown)
		}
		typ, _, next, err := box(r, off, size)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnknown, err)
		}
		switch {
		case typ == "ftyp" && off == 0:
			ftypEnd = next
		case typ == "moov":
			moovOff, moovEnd = off, next
		case typ == "mdat":
			mdatFirst = true
		}
		off = next
	}
	if ftypEnd < 0 || moovOff < 0 {
		return nil, fmt.Errorf("%w: no ftyp or moov", ErrUnknown)
	}
	if !mdatFirst {
		return io.NewSectionReader(r, 0, size), nil
	}
	if moovEnd-moovOff > maxMoov {
		return nil, fmt.Errorf("%w: moov of %d bytes", ErrUnknown, moovEnd-moovOff)
	}
	moov := make([]byte, moovEnd-moovOff)
	if _, err := r.ReadAt(moov, moovOff); err != nil {
		return nil, fmt.Errorf("%w: reading moov: %v", ErrUnknown, err)
	}
	// Everything between ftyp and moov moves down by the moov's size;
	// what follows the moov keeps its offset.
	if err := shiftChunkOffsets(moov, ftypEnd, moovOff, int64(len(moov))); err != nil {
		return nil, err
	}
	return io.MultiReader(
		io.NewSectionReader(r, 0, ftypEnd),
		bytes.NewReader(moov),
		io.NewSectionReader(r, ftypEnd, moovOff-ftypEnd),
		io.NewSectionReader(r, moovEnd, size-moovEnd),
	), nil
}

// shiftChunkOffsets adds delta to every chunk offset in [from, to) of the
// stco and co64 boxes of moov (the whole box, header included), in place.
func shiftChunkOffsets(moov []byte, from, to, delta int64) error {
	r := bytes.NewReader(moov)
	_, body, end, err := box(r, 0, int64(len(moov)))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnknown, err)
	}
	// The sample tables sit at a fixed depth: moov/trak/mdia/minf/stbl.
	var walk func(off, end int64, depth int) error
	walk = func(off, end int64, depth int) error {
		for off < end {
			typ, body, next, err := box(r, off, end)
			if err != nil {
				return fmt.Errorf("%w: %v", ErrUnknown, err)
			}
			switch {
			case depth < 4 && (typ == "trak" || typ == "mdia" || typ == "minf" || typ == "stbl"):
				if err := walk(body, next, depth+1); err != nil {
					return err
				}
			case typ == "stco" || typ == "co64":
				if err := shiftTable(moov[body:next], typ == "co64", from, to, delta); err != nil {
					return err
				}
			}
			off = next
		}
		return nil
	}
	return walk(body, end, 0)
}

// shiftTable rewrites one stco (32-bit) or co64 table: version and flags,
// an entry count, then the offsets.
func shiftTable(b []byte, wide bool, from, to, delta int64) error {
	if len(b) < 8 {
		return fmt.Errorf("%w: short chunk offset table", ErrUnknown)
	}
	w := int64(4)
	if wide {
		w = 8
	}
	n := int64(binary.BigEndian.Uint32(b[4:8]))
	if n > int64(len(b)-8)/w {
		return fmt.Errorf("%w: chunk offset table overruns", ErrUnknown)
	}
	for i := int64(0); i < n; i++ {
		e := b[8+i*w : 8+(i+1)*w]
		var o uint64
		if wide {
			o = binary.BigEndian.Uint64(e)
		} else {
			o = uint64(binary.BigEndian.Uint32(e))
		}
		if o < uint64(from) || o >= uint64(to) {
			continue
		}
		o += uint64(delta)
		switch {
		case !wide && o > math.MaxUint32:
			return fmt.Errorf("%w: 32-bit chunk offset overflows when moov moves", ErrUnknown)
		case !wide:
			binary.BigEndian.PutUint32(e, uint32(o))
		default:
			binary.BigEndian.PutUint64(e, o) // o < to + delta, both within the file: no overflow
		}
	}
	return nil
}

// posterArgs is the command line run by prlimit: the limits, then ffmpeg
// reading only its stdin with the demuxer forced, one thread everywhere,
// writing one PNG to stdout.
func posterArgs(ffmpeg, demuxer string, lim Limits) []string {
	args := []string{
		"--as=" + strconv.FormatInt(lim.MemoryBytes, 10),
		"--cpu=" + strconv.Itoa(lim.CPUSeconds),
		"--fsize=0",   // it writes no files: any attempt is killed (SIGXFSZ)
		"--nofile=16", // 3 standard descriptors; measured to work with 4
		"--core=0",
		"--", ffmpeg,
		"-hide_banner", "-nostats",
		// Compatible with reading pipe:0: it only stops ffmpeg reading
		// keyboard commands from stdin (there is no terminal anyway).
		"-nostdin",
		"-v", "error",
		"-filter_threads", "1", "-filter_complex_threads", "1",
		// Input options: only the pipe protocol, so nothing named inside
		// the file (dref, playlist, script) can be opened.
		"-protocol_whitelist", "pipe",
		"-threads", "1",
		"-f", demuxer,
	}
	if demuxer == "mov" {
		// The defaults already, stated so a changed default can't reopen
		// external data references.
		args = append(args, "-enable_drefs", "0", "-use_absolute_path", "0")
	}
	return append(args,
		"-i", "pipe:0",
		"-map", "0:v:0", "-an", "-sn", "-dn",
		// thumbnail picks a representative frame of the first 30, so not a
		// black fade-in.
		"-vf", "thumbnail=30", "-frames:v", "1",
		"-threads", "1",
		"-f", "image2pipe", "-c:v", "png", "pipe:1",
	)
}

var pngMagic = []byte("\x89PNG\r\n\x1a\n")
