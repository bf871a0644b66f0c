package app

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/thumbd/thumbd/variant"
)

// OutputFingerprint is a short name for what decides the bytes of a
// variant rendered at the effective size s (after max_size) as f, besides
// the photo and the requested size name: the settings of that format and
// mode only (see transform.Options.FormatFingerprint), and s. Static
// exports put it in their file names, so a changed setting re-renders
// exactly the files it affects.
func (a *App) OutputFingerprint(s variant.Size, f variant.Format) string {
	sum := sha256.Sum256([]byte(a.transform.FormatFingerprint(s, f) + "|" + s.Name))
	return hex.EncodeToString(sum[:4])
}
