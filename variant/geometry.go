package variant

// Upright returns the displayed size of a w x h image whose EXIF
// orientation is o: orientations 5-8 turn it by 90 degrees. Callers pass
// 1 for formats whose decoder hands over pixels already upright (HEIF).
func Upright(w, h, o int) (int, int) {
	if o >= 5 && o <= 8 {
		return h, w
	}
	return w, h
}

// ScreenBox turns a screen_<W>x<H> box to match an upright w x h photo:
// a landscape photo gets the long side across, a portrait one down. The
// result is a Fit size.
func ScreenBox(s Size, w, h int) Size {
	long, short := max(s.Width, s.Height), min(s.Width, s.Height)
	s.Mode = Fit
	if w >= h {
		s.Width, s.Height = long, short
	} else {
		s.Width, s.Height = short, long
	}
	return s
}

// OutputSize is the size variant s of a w x h (upright) original will have.
// Custom, screen and crop modes included; 0x0 if unknown.
func OutputSize(s Size, w, h int) (int, int) {
	if w <= 0 || h <= 0 {
		return 0, 0
	}
	switch s.Mode {
	case Original:
		return w, h
	case Tile, Left, Right, Colors:
		return s.Width, s.Height
	case Screen:
		s = ScreenBox(s, w, h)
	}
	f := min(float64(s.Width)/float64(w), float64(s.Height)/float64(h), 1)
	return max(1, int(float64(w)*f+0.5)), max(1, int(float64(h)*f+0.5))
}
