package xmp_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/thumbd/thumbd/xmp"
)

const head = `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">`
const tail = `</rdf:RDF></x:xmpmeta>`

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, body   string
		title, descr string
	}{
		{"lightroom", `<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/">
			<dc:title><rdf:Alt><rdf:li xml:lang="x-default">Low tide</rdf:li></rdf:Alt></dc:title>
			<dc:description><rdf:Alt><rdf:li xml:lang="x-default">At dawn,
two boats.</rdf:li></rdf:Alt></dc:description></rdf:Description>`, "Low tide", "At dawn,\ntwo boats."},
		{"x-default wins over earlier language", `<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/">
			<dc:title><rdf:Alt><rdf:li xml:lang="de">Ebbe</rdf:li><rdf:li xml:lang="x-default">Low tide</rdf:li></rdf:Alt></dc:title></rdf:Description>`, "Low tide", ""},
		{"first alternative without x-default", `<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/">
			<dc:title><rdf:Alt><rdf:li xml:lang="fr">Marée basse</rdf:li><rdf:li xml:lang="de">Ebbe</rdf:li></rdf:Alt></dc:title></rdf:Description>`, "Marée basse", ""},
		{"attribute shorthand", `<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:title="Short" dc:description="Form"/>`, "Short", "Form"},
		{"other prefix, same namespace", `<rdf:Description xmlns:e="http://purl.org/dc/elements/1.1/">
			<e:title><rdf:Alt><rdf:li xml:lang="x-default">Prefixed</rdf:li></rdf:Alt></e:title></rdf:Description>`, "Prefixed", ""},
		{"other namespaces ignored", `<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:p="http://ns.adobe.com/photoshop/1.0/" p:City="Secret">
			<dc:creator><rdf:Seq><rdf:li>Secret Person</rdf:li></rdf:Seq></dc:creator>
			<p:Headline>Not a title</p:Headline></rdf:Description>`, "", ""},
		{"escaped markup stays text", `<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/">
			<dc:title><rdf:Alt><rdf:li xml:lang="x-default">&lt;b&gt;bold&lt;/b&gt; &amp; co</rdf:li></rdf:Alt></dc:title></rdf:Description>`, "<b>bold</b> & co", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := xmp.Parse([]byte(head + tc.body + tail))
			if err != nil {
				t.Fatal(err)
			}
			if got.Title != tc.title || got.Description != tc.descr {
				t.Errorf("got %q / %q; want %q / %q", got.Title, got.Description, tc.title, tc.descr)
			}
		})
	}
}

func TestFindAndErrors(t *testing.T) {
	if _, err := xmp.Read([]byte("\xff\xd8 no packet here")); !errors.Is(err, xmp.ErrNone) {
		t.Errorf("no packet: %v, want ErrNone", err)
	}
	if _, err := xmp.Read([]byte("junk <x:xmpmeta xmlns:x='adobe:ns:meta/'> never closed")); !errors.Is(err, xmp.ErrNone) {
		t.Errorf("unterminated: %v, want ErrNone", err)
	}
	big := "<x:xmpmeta>" + strings.Repeat(" ", xmp.MaxPacket) + "</x:xmpmeta>"
	if _, err := xmp.Read([]byte(big)); err == nil {
		t.Error("an oversized packet was parsed")
	}
	if _, err := xmp.Read([]byte(head + `<rdf:Description><dc:title>` + tail)); err == nil {
		t.Error("malformed XML (undeclared prefix, unclosed) accepted")
	}
	// A billion-laughs entity is not expanded: encoding/xml has no DTD support.
	bomb := `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>` + head + `<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:title="&a;"/>` + tail
	if got, err := xmp.Read([]byte(bomb)); err == nil && strings.Contains(got.Title, "aaaa") {
		t.Errorf("entity expanded: %q", got.Title)
	}
}

// A real JPEG with exiftool-written XMP: the title (x-default over the
// German alternative) and the two-line description, nothing else.
func TestRealJPEG(t *testing.T) {
	b, err := os.ReadFile("testdata/cops_xmp.jpg")
	if err != nil {
		t.Fatal(err)
	}
	got, err := xmp.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != `Traffic stop <script>alert(1)</script> & "friends"` {
		t.Errorf("title %q", got.Title)
	}
	if got.Description != "Two officers at a car.\nSecond line." {
		t.Errorf("description %q", got.Description)
	}
	for _, secret := range []string{"Secret", "51", "SN-123456"} {
		if strings.Contains(got.Title+got.Description, secret) {
			t.Errorf("%q leaked into %+v", secret, got)
		}
	}
}

func FuzzParse(f *testing.F) {
	b, _ := os.ReadFile("testdata/cops_xmp.jpg")
	if p, err := xmp.Find(b); err == nil {
		f.Add(p)
	}
	f.Add([]byte(head + `<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:title="x"/>` + tail))
	f.Fuzz(func(t *testing.T, p []byte) {
		got, err := xmp.Parse(p)
		if err == nil && (len(got.Title) > len(p) || len(got.Description) > len(p)) {
			t.Fatalf("text longer than the packet")
		}
	})
}
