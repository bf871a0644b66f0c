package picker_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/thumbd/thumbd/picker"
	"github.com/thumbd/thumbd/signing"
	"github.com/thumbd/thumbd/storage"
)

// fakeIndex is a generated catalogue: no files needed.
type fakeIndex struct{ photos []storage.Original }

func (f *fakeIndex) Version() int64          { return 1 }
func (f *fakeIndex) All() []storage.Original { return append([]storage.Original(nil), f.photos...) }

// generated returns n photos in 100 folders over 24 months.
func generated(n int) *fakeIndex {
	f := &fakeIndex{}
	base := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		f.photos = append(f.photos, storage.Original{
			Hash:  fmt.Sprintf("%040x", i+1),
			Path:  fmt.Sprintf("folder%02d/IMG_%06d.jpg", i%100, i),
			Width: 4032, Height: 3024,
			Taken: base.Add(time.Duration(i%730) * 24 * time.Hour),
		})
	}
	return f
}

func page(t testing.TB, n int) *picker.Page {
	sg, err := signing.New([]string{"picker-test-key-0123456789abcdefghij"}, false)
	if err != nil {
		t.Fatal(err)
	}
	return picker.New(generated(n), picker.Options{PublicURL: "https://img.example.com", Signer: func() *signing.Signer { return sg }})
}

func TestSearchPagingOn100k(t *testing.T) {
	p := page(t, 100_000)
	for _, tc := range []struct {
		name                string
		q, folder, month    string
		page, total, onPage int
	}{
		{"all, first page", "", "", "", 1, 100_000, picker.PerPage},
		{"all, last page", "", "", "", 2084, 100_000, 100_000 - 2083*picker.PerPage},
		{"past the end", "", "", "", 99999, 100_000, 0},
		{"name", "IMG_012345", "", "", 1, 1, 1},
		{"name, case-insensitive prefix", "img_0123", "", "", 1, 100, 48},
		{"folder", "", "folder07", "", 1, 1000, picker.PerPage},
		{"folder, page 21", "", "folder07", "", 21, 1000, 1000 - 20*picker.PerPage},
		{"month", "", "", "2024-02", 1, 29 * 137, picker.PerPage},
		{"folder and name", "IMG_0000", "folder01", "", 1, 1, 1},
		{"nothing", "no-such-file", "", "", 1, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := p.Search(tc.q, tc.folder, tc.month, tc.page)
			if r.Total != tc.total || len(r.Photos) != tc.onPage {
				t.Errorf("total %d, on page %d; want %d, %d", r.Total, len(r.Photos), tc.total, tc.onPage)
			}
			for _, o := range r.Photos {
				if tc.folder != "" && !strings.HasPrefix(o.Path, tc.folder+"/") {
					t.Errorf("%s outside %s", o.Path, tc.folder)
				}
				if tc.month != "" && o.Taken.Format("2006-01") != tc.month {
					t.Errorf("%s taken %v", o.Path, o.Taken)
				}
			}
		})
	}
	// Newest first.
	r := p.Search("", "", "", 1)
	for i := 1; i < len(r.Photos); i++ {
		if r.Photos[i].Taken.After(r.Photos[i-1].Taken) {
			t.Fatal("results not sorted newest first")
		}
	}
}

func get(t *testing.T, h http.Handler, url string, auth ...string) (int, string) {
	req := httptest.NewRequest("GET", url, nil)
	if len(auth) == 2 {
		req.SetBasicAuth(auth[0], auth[1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	b, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(b)
}

func TestPagesRender(t *testing.T) {
	p := page(t, 1000)
	code, body := get(t, p, "/links/?q=IMG_000012&page=1")
	if code != 200 || strings.Count(body, `data-path=`) != 1 || !strings.Contains(body, `https://img.example.com/t/`) || !strings.Contains(body, `loading="lazy"`) {
		t.Fatalf("list: %d\n%s", code, body)
	}
	h := fmt.Sprintf("%040x", 13)
	_, body = get(t, p, "/links/photo?h="+h+"&size=fit_1280&size=tile_224&expiry=30d&format=webp")
	for _, want := range []string{`id="s-html"`, `id="s-markdown"`, `id="s-url"`, `id="s-jpg"`, `fit_1280.webp`, `tile_224.webp`, `fit_1280.jpg`, `Expires`} {
		if !strings.Contains(body, want) {
			t.Errorf("photo page lacks %q", want)
		}
	}
	// Non-canonical and unknown sizes are reported on the page, and no
	// link is minted for them.
	for _, bad := range []string{"tile_0500", "bogus", "fit_99999x1"} {
		code, body := get(t, p, "/links/photo?h="+h+"&size="+bad)
		if code != 200 || !strings.Contains(body, "unknown size") || strings.Contains(body, "/"+bad) {
			t.Errorf("size %q: %d, reported %v, minted %v", bad, code, strings.Contains(body, "unknown size"), strings.Contains(body, "/"+bad))
		}
	}
	if code, _ := get(t, p, "/links/photo?h=nope"); code != 404 {
		t.Errorf("unknown photo: %d", code)
	}
}

func TestBasicAuth(t *testing.T) {
	sg, _ := signing.New([]string{"picker-test-key-0123456789abcdefghij"}, false)
	p := picker.New(generated(10), picker.Options{Signer: func() *signing.Signer { return sg }, User: "me", Password: "s3cret"})
	if code, _ := get(t, p, "/links/"); code != 401 {
		t.Errorf("no credentials: %d", code)
	}
	if code, _ := get(t, p, "/links/", "me", "wrong"); code != 401 {
		t.Errorf("wrong password: %d", code)
	}
	if code, _ := get(t, p, "/links/", "me", "s3cret"); code != 200 {
		t.Errorf("right password: %d", code)
	}
}

// BenchmarkSearchPage is one results page (search, filter, page, sign 48
// tiles) over 100k photos, or THUMBD_PICKER_N of them (make bench: 1M):
// go test ./picker -run '^$' -bench SearchPage
func BenchmarkSearchPage(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("THUMBD_PICKER_N")); err == nil && v > 0 {
		n = v
	}
	p := page(b, n)
	for _, q := range []struct{ name, url string }{
		{"first-page", "/links/"},
		{"deep-page", fmt.Sprintf("/links/?page=%d", n/picker.PerPage*3/4)},
		{"name-search", "/links/?q=IMG_0999"},
		{"folder", "/links/?folder=folder42&page=3"},
	} {
		b.Run(q.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", q.url, nil)
			for i := 0; i < b.N; i++ {
				w := httptest.NewRecorder()
				p.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatal(w.Code)
				}
			}
		})
	}
}
