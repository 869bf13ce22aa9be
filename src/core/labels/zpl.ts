/**
 * ZPL II for Zebra thermal printers: one `^XA … ^XZ` label per device, sized from the layout's label (`^PW`/`^LL` at
 * the layout's `zplDpi`), the QR as `^BQN,2,<magnification>` with `^FDMA,` (error correction M, automatic input
 * mode), each text line as a scalable font-0 field. Text goes through `^FH` with `_XX` escapes for `^`, `~`, `_` and
 * anything outside printable ASCII, so a value can never start a ZPL command; the QR payload is ASCII without `^`/`~`
 * by construction (payload.ts).
 */
import { type LabelLayout, placeLines, textBox } from './layout.js'
import { type LabelData, labelPayload } from './payload.js'
import { qrMatrix } from './qr.js'

/** `_XX` escapes for a `^FH` field. */
export function zplText(s: string): string {
  return s.replace(/[^\x20-\x7e]|[\^~_]/g, (c) => `_${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)
}

/** One label as ZPL. */
export function renderZplLabel(d: LabelData, layout: LabelLayout, urlTemplate?: string): string {
  const dpmm = layout.zplDpi / 25.4
  const dots = (mm: number) => Math.round(mm * dpmm)
  const payload = labelPayload(d, urlTemplate)
  const m = qrMatrix(payload)
  // ^BQ magnification is whole dots per module (1..10); the printer adds no quiet zone, so leave 4 modules each side
  const mag = Math.max(1, Math.min(10, Math.floor(dots(layout.qrSize) / (m.size + 8))))
  const qrDots = mag * m.size
  const qx = dots(layout.padding) + 4 * mag
  const qy = Math.max(0, Math.round((dots(layout.label.height) - qrDots) / 2))
  const lines = [
    '^XA',
    '^CI0',
    `^PW${dots(layout.label.width)}`,
    `^LL${dots(layout.label.height)}`,
    '^LH0,0',
    // ^BQ draws ~10 dots below its ^FO in Zebra firmware; the offset keeps the symbol inside the label
    `^FO${qx},${Math.max(0, qy - 10)}^BQN,2,${mag}^FDMA,${payload}^FS`,
  ]
  const box = textBox(layout)
  // font 0 is proportional; ~0.6 of the height per character is a safe width estimate for wrapping
  const measure = (t: string, pt: number) => t.length * ((pt * 25.4) / 72) * 0.6
  for (const l of placeLines(layout, d, measure)) {
    const h = Math.max(10, dots((l.fontSize * 25.4) / 72))
    lines.push(`^FO${dots(box.x)},${dots(l.y)}^A0N,${h},${l.bold ? Math.round(h * 1.1) : h}^FH^FD${zplText(l.text)}^FS`)
  }
  lines.push('^XZ')
  return `${lines.join('\n')}\n`
}
