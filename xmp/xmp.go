// Package xmp reads the two fields a share page may show from a photo's
// XMP packet: dc:title and dc:description, as Lightroom, digiKam and
// exiftool write them (an rdf:Alt of language alternatives, x-default
// preferred). Nothing else of the packet is read or returned. Pure Go and
// bounded: the packet is found by its markers in the file's bytes, so the
// same code serves JPEG (APP1), PNG (iTXt), TIFF/DNG, WebP and HEIF.
package xmp

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MaxPacket bounds the packet parsed.
const MaxPacket = 1 << 20

// ErrNone means the bytes hold no XMP packet.
var ErrNone = errors.New("no XMP packet")

const (
	nsDC  = "http://purl.org/dc/elements/1.1/"
	nsRDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
	nsXML = "http://www.w3.org/XML/1998/namespace"
)

// Text is what a page may take from the packet.
type Text struct {
	Title, Description string
}

// Find returns the first XMP packet (<x:xmpmeta ...> ... </x:xmpmeta>) in b.
func Find(b []byte) ([]byte, error) {
	start := bytes.Index(b, []byte("<x:xmpmeta"))
	if start < 0 {
		return nil, ErrNone
	}
	end := bytes.Index(b[start:], []byte("</x:xmpmeta>"))
	if end < 0 {
		return nil, fmt.Errorf("%w: unterminated packet", ErrNone)
	}
	end += start + len("</x:xmpmeta>")
	if end-start > MaxPacket {
		return nil, fmt.Errorf("xmp: packet of %d bytes is larger than %d", end-start, MaxPacket)
	}
	return b[start:end], nil
}

// Read finds the packet in a file's bytes and reads its title and
// description.
func Read(file []byte) (Text, error) {
	p, err := Find(file)
	if err != nil {
		return Text{}, err
	}
	return Parse(p)
}

// Parse reads dc:title and dc:description from a packet: the x-default
// alternative, else the first; the attribute shorthand (dc:title="...")
// too.
func Parse(packet []byte) (Text, error) {
	d := xml.NewDecoder(bytes.NewReader(packet))
	d.Strict = true
	var (
		t       Text
		field   string // "title" or "description" while inside one
		depth   int    // element depth inside the field
		lang    string // xml:lang of the current rdf:li
		inLi    bool
		buf     strings.Builder
		found   = map[string]bool{}   // field has an x-default value
		firstOf = map[string]string{} // first alternative of each field
		values  = map[string]*string{"title": &t.Title, "description": &t.Description}
	)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Text{}, fmt.Errorf("xmp: %w", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if field == "" {
				if e.Name.Space == nsRDF && e.Name.Local == "Description" {
					for _, a := range e.Attr {
						if a.Name.Space == nsDC && values[a.Name.Local] != nil && *values[a.Name.Local] == "" {
							*values[a.Name.Local] = a.Value
						}
					}
				}
				if e.Name.Space == nsDC && values[e.Name.Local] != nil {
					field, depth = e.Name.Local, 0
					buf.Reset()
				}
				continue
			}
			depth++
			if e.Name.Space == nsRDF && e.Name.Local == "li" {
				inLi, lang = true, ""
				for _, a := range e.Attr {
					if a.Name.Space == nsXML && a.Name.Local == "lang" {
						lang = a.Value
					}
				}
				buf.Reset()
			}
		case xml.CharData:
			if field != "" && (inLi || depth == 0) {
				buf.Write(e)
			}
		case xml.EndElement:
			if field == "" {
				continue
			}
			if inLi && e.Name.Space == nsRDF && e.Name.Local == "li" {
				inLi = false
				v := buf.String()
				if _, ok := firstOf[field]; !ok {
					firstOf[field] = v
				}
				if strings.EqualFold(lang, "x-default") && !found[field] {
					found[field] = true
					*values[field] = v
				}
				depth--
				continue
			}
			if depth == 0 {
				// </dc:title>: a plain text value, or the alternatives.
				if !found[field] {
					if v, ok := firstOf[field]; ok {
						*values[field] = v
					} else if v := strings.TrimSpace(buf.String()); v != "" && *values[field] == "" {
						*values[field] = v
					}
				}
				field = ""
				continue
			}
			depth--
		}
	}
	t.Title, t.Description = strings.TrimSpace(t.Title), strings.TrimSpace(t.Description)
	return t, nil
}
