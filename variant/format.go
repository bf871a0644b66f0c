package variant

// Format is an output encoding.
type Format int

const (
	JPEG Format = iota
	PNG
	WebP
	AVIF
	// HEIF is not an output encoding: it names a HEIC original served in
	// its own container (metadata items removed in place), so it is not
	// in Formats and no URL extension selects it.
	HEIF
)

// Formats lists every output format, JPEG first.
var Formats = []Format{JPEG, PNG, WebP, AVIF}

// ContentType is the MIME type of the encoding.
func (f Format) ContentType() string {
	switch f {
	case PNG:
		return "image/png"
	case WebP:
		return "image/webp"
	case AVIF:
		return "image/avif"
	case HEIF:
		return "image/heic"
	}
	return "image/jpeg"
}

// Ext is the canonical file extension, without a dot.
func (f Format) Ext() string {
	switch f {
	case PNG:
		return "png"
	case WebP:
		return "webp"
	case AVIF:
		return "avif"
	case HEIF:
		return "heic"
	}
	return "jpg"
}

func (f Format) String() string { return f.Ext() }

// FormatFromExt maps an extension (without the dot; "jpeg" too) to its
// Format.
func FormatFromExt(ext string) (Format, bool) {
	if ext == "jpeg" {
		return JPEG, true
	}
	for _, f := range Formats {
		if f.Ext() == ext {
			return f, true
		}
	}
	return JPEG, false
}
