// Package jpegscan rewrites a progressive JPEG so that libjpeg, decoding it
// at 1/8 scale, entropy-decodes only what that scale uses.
//
// At 1/8 libjpeg turns each 8x8 block of a full-resolution component into
// one pixel from its DC coefficient alone (jpeg_idct_1x1). A baseline JPEG
// interleaves DC and AC in one scan, so every AC code must still be read
// to find the next block; a progressive JPEG keeps AC coefficients in
// scans of their own, which are most of the file and most of the decode
// (258 ms of CPU for a 24 MP progressive tile_500 against 57 for the same
// pixels in baseline). Eighth replaces every AC scan of such a component
// with one synthetic scan that marks all its AC coefficients as zero at
// full precision: a few bytes of end-of-band runs. The decoder then sees a
// complete progression (so it does not switch to its block-smoothing
// estimates, which it uses while AC precision is still unknown) and
// produces the same pixels at 1/8 as it does from the original.
//
// Components subsampled in both directions (4:2:0 chroma) are decoded
// larger than 1x1 at 1/8 (libjpeg scales them up in the IDCT rather than
// upsampling), so their AC scans are kept. Anything this package does not fully understand, from
// arithmetic coding to an incomplete progression, is left alone: Eighth
// reports false and the caller decodes the original.
package jpegscan

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// component is one SOF component.
type component struct {
	id       byte
	h, v     int
	blocks   int      // 8x8 blocks in a scan of this component alone
	dcOnly   bool     // libjpeg's 1/8 decode reads only its DC coefficients
	done     [64]bool // coefficients some scan brings to full precision
	hasAC    bool     // the original has AC scans for it
	replaced bool     // its synthetic scan is in the output
}

// Eighth returns src rewritten for a 1/8 decode, and whether it rewrote
// anything (when false, out is nil and src should be decoded as it is).
// It never modifies src.
func Eighth(src []byte) (out []byte, ok bool) {
	p := parser{src: src}
	if !p.plan() || !p.worthwhile() {
		return nil, false
	}
	return p.write(), true
}

type parser struct {
	src      []byte
	comps    []component
	sofSeen  bool
	segments []segment
}

// segment is a span of src to copy, or an AC scan to drop (and where to
// put the synthetic one).
type segment struct {
	start, end int
	kind       int // copyAs, dropScan
	comp       int // dropScan: index into comps
	table      int // dropScan: the AC table slot the scan used
	restart    int // dropScan: restart interval in effect
	// dht: the AC table definitions (Tc/Th byte first) in effect at this
	// point, by slot, so the slot used by the synthetic scan is restored
	dht [4][]byte
}

const (
	copyAs = iota
	dropScan
)

// plan walks the markers, records what to copy and what to drop, and
// checks everything the rewrite relies on.
func (p *parser) plan() bool {
	b := p.src
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return false
	}
	var dht [4][]byte // AC tables in effect, by slot
	restart := 0
	i := 2
	copyFrom := 0
	for {
		// A marker, after any fill bytes.
		if i >= len(b) || b[i] != 0xFF {
			return false
		}
		for i < len(b) && b[i] == 0xFF {
			i++
		}
		if i >= len(b) {
			return false
		}
		m := b[i]
		i++
		switch {
		case m == 0xD9: // EOI
			p.segments = append(p.segments, segment{start: copyFrom, end: i, kind: copyAs})
			return p.complete()
		case m == 0x00 || m == 0x01 || m == 0xD8 || (m >= 0xD0 && m <= 0xD7):
			return false // stray or standalone marker: not a file this package rewrites
		}
		if i+2 > len(b) {
			return false
		}
		n := int(binary.BigEndian.Uint16(b[i:]))
		if n < 2 || i+n > len(b) {
			return false
		}
		body := b[i+2 : i+n]
		segStart := i - 2
		i += n
		switch {
		case m == 0xC2:
			if p.sofSeen || !p.sof(body) {
				return false
			}
		case m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC:
			return false // baseline, lossless, arithmetic or hierarchical
		case m == 0xC4:
			if !defineTables(body, &dht) {
				return false
			}
		case m == 0xDD:
			if len(body) != 2 {
				return false
			}
			restart = int(binary.BigEndian.Uint16(body))
		case m == 0xDC: // DNL: the height comes after the first scan
			return false
		case m == 0xDA:
			if !p.sofSeen {
				return false
			}
			end := entropyEnd(b, i)
			if end < 0 {
				return false
			}
			ci, ta, drop, valid := p.scan(body)
			if !valid {
				return false
			}
			if drop {
				if segStart > copyFrom {
					p.segments = append(p.segments, segment{start: copyFrom, end: segStart, kind: copyAs})
				}
				p.segments = append(p.segments, segment{start: segStart, end: end, kind: dropScan, comp: ci, table: ta, restart: restart, dht: dht})
				copyFrom = end
			}
			i = end
		}
	}
}

// sof reads a progressive frame header.
func (p *parser) sof(body []byte) bool {
	if len(body) < 6 || body[0] != 8 {
		return false
	}
	height := int(binary.BigEndian.Uint16(body[1:]))
	width := int(binary.BigEndian.Uint16(body[3:]))
	nf := int(body[5])
	if height == 0 || width == 0 || nf < 1 || nf > 4 || len(body) != 6+3*nf {
		return false
	}
	maxH, maxV := 1, 1
	for k := 0; k < nf; k++ {
		c := component{id: body[6+3*k], h: int(body[7+3*k] >> 4), v: int(body[7+3*k] & 15)}
		if c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4 {
			return false
		}
		for _, o := range p.comps {
			if o.id == c.id {
				return false
			}
		}
		maxH, maxV = max(maxH, c.h), max(maxV, c.v)
		p.comps = append(p.comps, c)
	}
	for k := range p.comps {
		c := &p.comps[k]
		// libjpeg (jdmaster.c): a component's IDCT size at 1/8 starts at
		// 1 and doubles while it is subsampled by a further factor of two
		// in both directions, so a component stays at 1x1 unless it is
		// subsampled both ways (4:2:0 chroma is decoded 2x2; 4:2:2 and
		// 4:4:0 chroma 1x1, then upsampled). Subsampling factors that are
		// not powers of two are left alone.
		if maxH%c.h != 0 || maxV%c.v != 0 || bits.OnesCount(uint(maxH/c.h)) != 1 || bits.OnesCount(uint(maxV/c.v)) != 1 {
			return false
		}
		c.dcOnly = maxH%(2*c.h) != 0 || maxV%(2*c.v) != 0
		wb := (width*c.h + maxH*8 - 1) / (maxH * 8)
		hb := (height*c.v + maxV*8 - 1) / (maxV * 8)
		c.blocks = wb * hb
	}
	p.sofSeen = true
	return true
}

// scan reads a scan header: which component an AC scan is for, its table
// slot, and whether it can be dropped.
func (p *parser) scan(body []byte) (comp, table int, drop, valid bool) {
	if len(body) < 1 {
		return
	}
	ns := int(body[0])
	if ns < 1 || ns > 4 || len(body) != 1+2*ns+3 {
		return
	}
	ss, se, ah, al := int(body[1+2*ns]), int(body[2+2*ns]), int(body[3+2*ns]>>4), int(body[3+2*ns]&15)
	if ss > se || se > 63 || al > 13 || ah > 13 {
		return
	}
	idx := make([]int, ns)
	for k := 0; k < ns; k++ {
		idx[k] = -1
		for ci := range p.comps {
			if p.comps[ci].id == body[1+2*k] {
				idx[k] = ci
			}
		}
		if idx[k] < 0 || body[2+2*k]>>4 > 3 || body[2+2*k]&15 > 3 {
			return
		}
	}
	if ss == 0 {
		// DC: kept. A scan mixing DC and AC is not progressive JPEG.
		return 0, 0, false, se == 0
	}
	if ns != 1 {
		return // AC scans carry one component
	}
	c := &p.comps[idx[0]]
	c.hasAC = true
	if al == 0 {
		for k := ss; k <= se; k++ {
			c.done[k] = true
		}
	}
	return idx[0], int(body[2] & 15), c.dcOnly, true
}

// complete checks that every AC coefficient of every dropped component
// ends at full precision in the original: only then does the original
// decode skip block smoothing for it, as the rewritten one will.
func (p *parser) complete() bool {
	for _, c := range p.comps {
		if !c.dcOnly || !c.hasAC {
			continue
		}
		for k := 1; k < 64; k++ {
			if !c.done[k] {
				return false
			}
		}
	}
	return true
}

func (p *parser) worthwhile() bool {
	for _, s := range p.segments {
		if s.kind == dropScan {
			return true
		}
	}
	return false
}

// defineTables records the AC tables a DHT segment defines.
func defineTables(body []byte, dht *[4][]byte) bool {
	for len(body) > 0 {
		if len(body) < 17 {
			return false
		}
		tc, th := body[0]>>4, body[0]&15
		if tc > 1 || th > 3 {
			return false
		}
		n := 0
		for _, c := range body[1:17] {
			n += int(c)
		}
		if n > 256 || len(body) < 17+n {
			return false
		}
		if tc == 1 {
			dht[th] = body[:17+n]
		}
		body = body[17+n:]
	}
	return true
}

// entropyEnd finds the marker that ends the entropy-coded data starting at
// i: an 0xFF not followed by a stuffed zero or a restart marker.
func entropyEnd(b []byte, i int) int {
	for {
		j := bytes.IndexByte(b[i:], 0xFF)
		if j < 0 || i+j+1 >= len(b) {
			return -1
		}
		i += j
		if n := b[i+1]; n != 0x00 && (n < 0xD0 || n > 0xD7) {
			return i
		}
		i += 2
	}
}

// write assembles the output.
func (p *parser) write() []byte {
	out := make([]byte, 0, len(p.src)/2)
	for _, s := range p.segments {
		if s.kind == copyAs {
			out = append(out, p.src[s.start:s.end]...)
			continue
		}
		c := &p.comps[s.comp]
		if c.replaced {
			continue
		}
		c.replaced = true
		out = zeroScan(out, c.id, c.blocks, s.table, s.restart)
		if t := s.dht[s.table]; t != nil {
			// Put back the table the synthetic scan overwrote, for the
			// scans after it that still use it.
			out = append(out, 0xFF, 0xC4)
			out = binary.BigEndian.AppendUint16(out, uint16(2+len(t)))
			out = append(out, t...)
		}
	}
	return out
}

// zeroScan appends an AC scan (coefficients 1-63, first pass, no
// successive approximation) for one component in which every block is
// inside an end-of-band run: all its AC coefficients are zero.
func zeroScan(out []byte, id byte, blocks, table, restart int) []byte {
	// A Huffman table of the fifteen EOBRUN symbols (0x00, 0x10, ...
	// 0xE0), four bits each: symbol r<<4 has code r.
	out = append(out, 0xFF, 0xC4, 0, 2+17+15, 0x10|byte(table))
	var counts [16]byte
	counts[3] = 15
	out = append(out, counts[:]...)
	for r := 0; r < 15; r++ {
		out = append(out, byte(r<<4))
	}
	out = append(out, 0xFF, 0xDA, 0, 8, 1, id, byte(table), 1, 63, 0)

	if restart <= 0 {
		restart = blocks
	}
	for done, rst := 0, 0; done < blocks; rst++ {
		if done > 0 {
			out = append(out, 0xFF, 0xD0+byte((rst-1)%8))
		}
		n := min(restart, blocks-done)
		done += n
		var w bitWriter
		for n > 0 {
			run := min(n, 1<<15-1)
			n -= run
			r := bits.Len(uint(run)) - 1
			w.put(uint32(r), 4)
			w.put(uint32(run-(1<<r)), r)
		}
		out = w.flush(out)
	}
	return out
}

// bitWriter packs entropy-coded bits, stuffing a zero after each 0xFF.
type bitWriter struct {
	buf   []byte
	acc   uint32
	nbits int
}

func (w *bitWriter) put(v uint32, n int) {
	for n > 0 {
		n--
		w.acc = w.acc<<1 | (v>>n)&1
		w.nbits++
		if w.nbits == 8 {
			w.emit(byte(w.acc))
			w.acc, w.nbits = 0, 0
		}
	}
}

func (w *bitWriter) emit(c byte) {
	w.buf = append(w.buf, c)
	if c == 0xFF {
		w.buf = append(w.buf, 0)
	}
}

// flush pads the last byte with ones (as JPEG requires) and appends.
func (w *bitWriter) flush(out []byte) []byte {
	if w.nbits > 0 {
		w.put(1<<(8-w.nbits)-1, 8-w.nbits)
	}
	out = append(out, w.buf...)
	w.buf = w.buf[:0]
	return out
}
