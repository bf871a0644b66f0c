// Command benchprep makes the inputs `make bench` needs:
//
//	benchprep copies -n 32 -out DIR FILE...
//	    N byte-distinct, still valid copies of each image (a comment
//	    segment, text chunk, unknown RIFF chunk or free box carrying the copy
//	    number), so every copy has its own hash: no request collapsing, no
//	    cache, every request a full transform. Prints the paths.
//	benchprep imgproxy-urls -base URL -opts rs:fill:500:500:1/g:ce [-key HEX -salt HEX] FILE...
//	    imgproxy URLs for local files (local:///name@jpg), signed with
//	    HMAC-SHA256(key, salt + path) when a key is given (imgproxy's
//	    documented scheme).
//	benchprep tree -n 100000 -out DIR FILE
//	    N distinct copies of a small JPEG in DIR/ddd/nnnnnn.jpg (1000 per
//	    folder), for the index cost figures.
package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "copies":
		err = copies(os.Args[2:])
	case "imgproxy-urls":
		err = imgproxyURLs(os.Args[2:])
	case "tree":
		err = tree(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchprep:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: benchprep copies|imgproxy-urls|tree [flags] FILE...")
	os.Exit(2)
}

func copies(args []string) error {
	fs := flag.NewFlagSet("copies", flag.ExitOnError)
	n := fs.Int("n", 32, "copies per file")
	out := fs.String("out", "", "output folder")
	fs.Parse(args)
	if *out == "" || fs.NArg() == 0 {
		return errors.New("copies: -out and files needed")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for _, f := range fs.Args() {
		src, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		ext := filepath.Ext(f)
		stem := strings.TrimSuffix(filepath.Base(f), ext)
		for i := 1; i <= *n; i++ {
			b, err := tag(src, fmt.Sprintf("thumbd bench copy %03d", i))
			if err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			p := filepath.Join(*out, fmt.Sprintf("%s-%03d%s", stem, i, ext))
			if err := os.WriteFile(p, b, 0o644); err != nil {
				return err
			}
			fmt.Println(p)
		}
	}
	return nil
}

// tag returns src with note stored where the format allows an ignorable
// annotation, leaving the pixels alone.
func tag(src []byte, note string) ([]byte, error) {
	switch {
	case len(src) > 2 && src[0] == 0xFF && src[1] == 0xD8:
		// JPEG: a COM segment right after SOI.
		seg := []byte{0xFF, 0xFE, 0, 0}
		binary.BigEndian.PutUint16(seg[2:], uint16(len(note)+2))
		return concat(src[:2], seg, []byte(note), src[2:]), nil
	case bytes.HasPrefix(src, []byte("\x89PNG\r\n\x1a\n")):
		// PNG: a tEXt chunk just before IEND.
		i := bytes.LastIndex(src, []byte("IEND"))
		if i < 4 {
			return nil, errors.New("png without IEND")
		}
		body := append([]byte("Comment\x00"), note...)
		chunk := make([]byte, 8, 12+len(body))
		binary.BigEndian.PutUint32(chunk, uint32(len(body)))
		copy(chunk[4:], "tEXt")
		chunk = append(chunk, body...)
		chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
		return concat(src[:i-4], chunk, src[i-4:]), nil
	case len(src) > 12 && string(src[:4]) == "RIFF" && string(src[8:12]) == "WEBP":
		// WebP (extended format): an unknown chunk at the end, which
		// decoders skip; the RIFF size grows with it.
		if string(src[12:16]) != "VP8X" {
			return nil, errors.New("simple-format WebP: no room for an extra chunk")
		}
		body := []byte(note)
		if len(body)%2 == 1 {
			body = append(body, ' ')
		}
		chunk := make([]byte, 8, 8+len(body))
		copy(chunk, "XBNC")
		binary.LittleEndian.PutUint32(chunk[4:], uint32(len(body)))
		chunk = append(chunk, body...)
		out := concat(src, chunk)
		binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
		return out, nil
	case len(src) > 12 && string(src[4:8]) == "ftyp":
		// HEIF: a top-level free box at the end.
		box := make([]byte, 8, 8+len(note))
		binary.BigEndian.PutUint32(box, uint32(8+len(note)))
		copy(box[4:], "free")
		return concat(src, append(box, note...)), nil
	}
	return nil, errors.New("unknown format")
}

func concat(parts ...[]byte) []byte {
	var n int
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func imgproxyURLs(args []string) error {
	fs := flag.NewFlagSet("imgproxy-urls", flag.ExitOnError)
	base := fs.String("base", "http://127.0.0.1:18200", "imgproxy base URL")
	opts := fs.String("opts", "", "processing options, e.g. rs:fill:500:500:1/g:ce")
	key := fs.String("key", "", "IMGPROXY_KEY (hex); empty: unsigned")
	salt := fs.String("salt", "", "IMGPROXY_SALT (hex)")
	fs.Parse(args)
	var k, s []byte
	if *key != "" {
		var err error
		if k, err = hex.DecodeString(*key); err != nil {
			return fmt.Errorf("key: %w", err)
		}
		if s, err = hex.DecodeString(*salt); err != nil {
			return fmt.Errorf("salt: %w", err)
		}
	}
	for _, f := range fs.Args() {
		path := "/" + strings.Trim(*opts, "/") + "/plain/local:///" + filepath.Base(f) + "@jpg"
		sig := "insecure"
		if k != nil {
			m := hmac.New(sha256.New, k)
			m.Write(s)
			m.Write([]byte(path))
			sig = base64.RawURLEncoding.EncodeToString(m.Sum(nil))
		}
		fmt.Println(strings.TrimSuffix(*base, "/") + "/" + sig + path)
	}
	return nil
}

func tree(args []string) error {
	fs := flag.NewFlagSet("tree", flag.ExitOnError)
	n := fs.Int("n", 100000, "files")
	out := fs.String("out", "", "output folder")
	fs.Parse(args)
	if *out == "" || fs.NArg() != 1 {
		return errors.New("tree: -out and one file needed")
	}
	src, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	var bytesOut int64
	for i := 0; i < *n; i++ {
		dir := filepath.Join(*out, fmt.Sprintf("%03d", i/1000))
		if i%1000 == 0 {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
		}
		b, err := tag(src, fmt.Sprintf("thumbd index bench %07d", i))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%06d.jpg", i)), b, 0o644); err != nil {
			return err
		}
		bytesOut += int64(len(b))
	}
	fmt.Printf("files=%d bytes=%d\n", *n, bytesOut)
	return nil
}
