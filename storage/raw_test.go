package storage_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/thumbd/thumbd/metastrip"
	"github.com/thumbd/thumbd/storage"
)

func readRAW(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../testdata/raw", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withOrientation returns a copy of a TIFF-based RAW with its IFD0
// Orientation tag set to o (the real files all say 1).
func withOrientation(t *testing.T, b []byte, o uint16) []byte {
	t.Helper()
	b = bytes.Clone(b)
	var bo binary.ByteOrder = binary.LittleEndian
	if b[0] == 'M' {
		bo = binary.BigEndian
	}
	ifd := int(bo.Uint32(b[4:]))
	n := int(bo.Uint16(b[ifd:]))
	for i := range n {
		e := b[ifd+2+12*i:]
		if bo.Uint16(e) == 0x0112 {
			bo.PutUint16(e[8:], o)
			return b
		}
	}
	t.Fatal("no Orientation tag in IFD0")
	return nil
}

// orientationOf reads the orientation a JPEG's EXIF block carries (1 if none).
func orientationOf(t *testing.T, b []byte) int {
	t.Helper()
	i := bytes.Index(b, []byte("Exif\x00\x00"))
	if i < 0 {
		return 1
	}
	tiff := b[i+6:]
	var bo binary.ByteOrder = binary.LittleEndian
	if tiff[0] == 'M' {
		bo = binary.BigEndian
	}
	ifd := int(bo.Uint32(tiff[4:]))
	for k := range int(bo.Uint16(tiff[ifd:])) {
		e := tiff[ifd+2+12*k:]
		if bo.Uint16(e) == 0x0112 {
			return int(bo.Uint16(e[8:]))
		}
	}
	return 1
}

// TestRAWIndexedByPreview: RAW files are indexed with their preview's
// upright size and the date taken, and Read hands over the preview as a
// stripped JPEG carrying the RAW's orientation; a RAW without a usable
// preview is indexed and answers ErrNoPreview.
func TestRAWIndexedByPreview(t *testing.T) {
	dir := t.TempDir()
	nef := readRAW(t, "d7100.nef")
	files := map[string][]byte{
		"d7100.NEF":                nef,
		"rotated/d7100-6.nef":      withOrientation(t, nef, 6),
		"rotated/d7100-8.nef":      withOrientation(t, nef, 8),
		"eos-1ds-mark-iii.cr2":     readRAW(t, "eos-1ds-mark-iii.cr2"),
		"eos-d30.crw":              readRAW(t, "eos-d30.crw"),
		"k-3-ii.pef":               readRAW(t, "k-3-ii.pef"),
		"powershot-sd450-cut.dng":  readRAW(t, "powershot-sd450-cut.dng"),
		"not-a-raw.arw":            readPhoto(t, "dice.png"),
		"cut/d7100-truncated.nef":  nef[:len(nef)/2], // the big preview lies past the cut
		"cut/eos-1ds-half.cr2":     readRAW(t, "eos-1ds-mark-iii.cr2")[:100_000],
		"cut/eos-d30-no-heaps.crw": readRAW(t, "eos-d30.crw")[:1000],
	}
	for rel, b := range files {
		write(t, dir, rel, b)
	}
	// max_file_mb below the NEF (3.4 MB) but above its preview (2.3 MB):
	// the RAW is indexed and served.
	ix := open(t, dir, 3<<20)
	st := scan(t, ix, 2)
	if st.Files != len(files) || st.TooLarge != 0 {
		t.Fatalf("indexed %d (too large %d) of %d files: %+v", st.Files, st.TooLarge, len(files), st)
	}
	for _, tc := range []struct {
		rel            string
		w, h, orient   int
		taken          string
		err            error
		pixelW, pixelH int // the JPEG as stored
	}{
		{rel: "d7100.NEF", w: 6000, h: 4000, orient: 1, taken: "2013:09:03 09:45:16", pixelW: 6000, pixelH: 4000},
		{rel: "rotated/d7100-6.nef", w: 4000, h: 6000, orient: 6, taken: "2013:09:03 09:45:16", pixelW: 6000, pixelH: 4000},
		{rel: "rotated/d7100-8.nef", w: 4000, h: 6000, orient: 8, taken: "2013:09:03 09:45:16", pixelW: 6000, pixelH: 4000},
		{rel: "eos-1ds-mark-iii.cr2", w: 2784, h: 1856, orient: 1, taken: "2007:10:18 13:44:32", pixelW: 2784, pixelH: 1856},
		{rel: "eos-d30.crw", w: 1440, h: 960, orient: 1, pixelW: 1440, pixelH: 960},
		{rel: "k-3-ii.pef", w: 720, h: 480, orient: 1, taken: "2021:02:05 10:56:53", pixelW: 720, pixelH: 480},
		{rel: "powershot-sd450-cut.dng", err: storage.ErrNoPreview},
		{rel: "not-a-raw.arw", err: storage.ErrNoPreview},
		// Truncated: the NEF keeps a 1620x1080 preview, the CR2
		// its 160x120 thumbnail; the CRW's heaps are gone.
		{rel: "cut/d7100-truncated.nef", w: 1620, h: 1080, orient: 1, taken: "2013:09:03 09:45:16", pixelW: 1620, pixelH: 1080},
		{rel: "cut/eos-1ds-half.cr2", w: 160, h: 120, orient: 1, taken: "2007:10:18 13:44:32", pixelW: 160, pixelH: 120},
		{rel: "cut/eos-d30-no-heaps.crw", err: storage.ErrNoPreview},
	} {
		t.Run(tc.rel, func(t *testing.T) {
			o, err := ix.Lookup(context.Background(), sha(files[tc.rel]))
			if err != nil {
				t.Fatalf("not indexed: %v", err)
			}
			if o.Width != tc.w || o.Height != tc.h {
				t.Errorf("indexed %dx%d; want %dx%d", o.Width, o.Height, tc.w, tc.h)
			}
			if tc.taken != "" {
				want, _ := time.Parse("2006:01:02 15:04:05", tc.taken)
				if !o.Taken.Equal(want) {
					t.Errorf("taken %v; want %v", o.Taken, want)
				}
			}
			b, err := ix.Read(context.Background(), o)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Read: %v; want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("Read gives no JPEG: %v", err)
			}
			if cfg.Width != tc.pixelW || cfg.Height != tc.pixelH {
				t.Errorf("preview %dx%d; want %dx%d", cfg.Width, cfg.Height, tc.pixelW, tc.pixelH)
			}
			if got := orientationOf(t, b); got != tc.orient {
				t.Errorf("preview carries orientation %d; want the RAW's %d", got, tc.orient)
			}
			if err := metastrip.Check(b); err != nil {
				t.Errorf("preview keeps metadata: %v", err)
			}
		})
	}
}

// TestRAWPreviewLimits: max_file_mb bounds what is read (the preview),
// not the RAW's size; a RAW replaced on disk is re-hashed before its
// preview is served.
func TestRAWPreviewLimits(t *testing.T) {
	dir := t.TempDir()
	nef := readRAW(t, "d7100.nef")
	write(t, dir, "a.nef", nef)
	ix := open(t, dir, 2<<20) // the NEF's 6000x4000 preview is 2.2 MiB
	scan(t, ix, 1)
	o, err := ix.Lookup(context.Background(), sha(nef))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.Read(context.Background(), o); !errors.Is(err, storage.ErrTooLarge) {
		t.Fatalf("Read of a 2.2 MiB preview under a 2 MiB limit: %v; want ErrTooLarge", err)
	}

	ix2 := open(t, dir, 0)
	scan(t, ix2, 1)
	o, err = ix2.Lookup(context.Background(), sha(nef))
	if err != nil {
		t.Fatal(err)
	}
	// Same size, other bytes (the orientation), new mtime: not the indexed file.
	changed := withOrientation(t, nef, 3)
	if err := os.WriteFile(filepath.Join(dir, "a.nef"), changed, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ix2.Read(context.Background(), o); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Read of a replaced RAW: %v; want ErrNotFound", err)
	}
	n, err := ix2.Lookup(context.Background(), sha(changed))
	if err != nil {
		t.Fatalf("the new content is not indexed under its hash: %v", err)
	}
	b, err := ix2.Read(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	if got := orientationOf(t, b); got != 3 {
		t.Errorf("orientation %d after the change; want 3", got)
	}
}
