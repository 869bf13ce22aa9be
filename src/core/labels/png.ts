/**
 * PNG labels (pngjs): one image per device at the layout's `pngDpi`, for label software and the station screen. The
 * QR is drawn with whole pixels per module (crisp for any decoder) and its quiet zone; the text lines use the small
 * built-in bitmap font (font5x7.ts), scaled to the nearest whole pixel size of the layout's font size.
 */
import { PNG } from 'pngjs'

import { GLYPH_H, GLYPH_W, glyph } from './font5x7.js'
import { type LabelLayout, placeLines, textBox } from './layout.js'
import { type LabelData, labelPayload } from './payload.js'
import { QUIET_ZONE, qrMatrix } from './qr.js'

export function renderPngLabel(d: LabelData, layout: LabelLayout, urlTemplate?: string): Buffer {
  const ppmm = layout.pngDpi / 25.4
  const px = (mm: number) => Math.round(mm * ppmm)
  const width = px(layout.label.width)
  const height = px(layout.label.height)
  const gray = Buffer.alloc(width * height, 255)
  const fill = (x: number, y: number, w: number, h: number) => {
    for (let yy = Math.max(0, y); yy < Math.min(height, y + h); yy++) gray.fill(0, yy * width + Math.max(0, x), yy * width + Math.min(width, x + w))
  }
  const m = qrMatrix(labelPayload(d, urlTemplate))
  const mod = Math.max(1, Math.floor(px(layout.qrSize) / (m.size + 2 * QUIET_ZONE)))
  const qx = px(layout.padding) + QUIET_ZONE * mod
  const qy = Math.round((height - mod * m.size) / 2)
  for (let y = 0; y < m.size; y++) for (let x = 0; x < m.size; x++) if (m.dark(x, y)) fill(qx + x * mod, qy + y * mod, mod, mod)
  const box = textBox(layout)
  // scale: glyph cell height (GLYPH_H + 1 rows) at most the font size
  const scaleOf = (pt: number) => Math.max(1, Math.floor(px((pt * 25.4) / 72) / (GLYPH_H + 1)))
  const measure = (t: string, pt: number) => (t.length * (GLYPH_W + 1) * scaleOf(pt)) / ppmm
  for (const l of placeLines(layout, d, measure)) {
    const s = scaleOf(l.fontSize)
    let x = px(box.x)
    const y = px(l.y)
    for (const ch of l.text) {
      const rows = glyph(ch)
      for (let r = 0; r < GLYPH_H; r++) {
        for (let c = 0; c < GLYPH_W; c++) {
          if ((rows[r]! >> (GLYPH_W - 1 - c)) & 1) fill(x + c * s, y + r * s, l.bold ? s + 1 : s, s)
        }
      }
      x += (GLYPH_W + 1) * s
    }
  }
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false })
  png.data = gray
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false })
}
