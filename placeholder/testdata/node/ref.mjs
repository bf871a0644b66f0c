// Runs the reference encoders and decoders on what the Go tests send:
// a JSON array on stdin of {w, h, rgba (base64), cx, cy, th, bh}, where th
// and bh are the Go package's own hashes of the same pixels. Answers a JSON
// array: the reference's hashes, and its renderings of the Go hashes.
import { rgbaToThumbHash, thumbHashToRGBA } from 'thumbhash'
import { encode, decode, isBlurhashValid } from 'blurhash'

const chunks = []
for await (const c of process.stdin) chunks.push(c)
const items = JSON.parse(Buffer.concat(chunks).toString('utf8'))
const b64 = (u8) => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength).toString('base64')

const out = items.map(({ w, h, rgba, cx, cy, th, bh, bw, bhh }) => {
  const px = new Uint8ClampedArray(Buffer.from(rgba, 'base64'))
  const r = {
    th: b64(rgbaToThumbHash(w, h, px)),
    bh: encode(px, w, h, cx, cy),
  }
  if (th) {
    const d = thumbHashToRGBA(Buffer.from(th, 'base64'))
    r.thDec = { w: d.w, h: d.h, rgba: b64(d.rgba) }
  }
  if (bh) {
    r.bhValid = isBlurhashValid(bh).result
    r.bhDec = b64(decode(bh, bw, bhh))
  }
  return r
})
process.stdout.write(JSON.stringify(out))
