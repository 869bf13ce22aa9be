/**
 * PDF label sheets (pdfkit): labels fill the layout's grid page by page. The document is streamed into the output as
 * pages complete and the producer waits while more than {@link HIGH_WATER} bytes are unwritten, so 10 000 labels
 * take the memory of a few pages. QR codes are vector rectangles (no images), text uses the standard Helvetica fonts
 * (nothing embedded).
 */
import type { Writable } from 'node:stream'

import PDFDocument from 'pdfkit'

import { type LabelLayout, MM, placeLines } from './layout.js'
import { type LabelData, labelPayload } from './payload.js'
import { QUIET_ZONE, qrMatrix, qrRuns } from './qr.js'

const HIGH_WATER = 1 << 20

export interface PdfOptions {
  urlTemplate?: string | undefined
  title?: string
  /** Called after each label (count so far). */
  onLabel?: (n: number) => void
}

/** Writes every label to `out` as one PDF; resolves when the document's last byte is handed to `out` (not ended). */
export async function renderPdf(labels: AsyncIterable<LabelData> | Iterable<LabelData>, layout: LabelLayout, out: Writable, o: PdfOptions = {}): Promise<number> {
  const doc = new PDFDocument({
    size: [layout.page.width * MM, layout.page.height * MM],
    margin: 0,
    autoFirstPage: false,
    compress: true,
    info: { Title: o.title ?? 'lwprov labels', Creator: 'lwprov' },
  })
  const ended = new Promise<void>((res, rej) => {
    doc.once('end', res)
    doc.once('error', rej)
    out.once('error', rej)
  })
  // `end: false`: the caller's safe-write commit ends (and renames) the file
  doc.pipe(out, { end: false })
  const perPage = layout.columns * layout.rows
  const measure = (t: string, pt: number, bold: boolean) => doc.font(bold ? 'Helvetica-Bold' : 'Helvetica').fontSize(pt).widthOfString(t) / MM
  let n = 0
  for await (const d of labels) {
    const slot = n % perPage
    if (slot === 0) {
      // let the file catch up before starting another page
      while (doc.readableLength > HIGH_WATER) await new Promise((r) => setTimeout(r, 2))
      doc.addPage({ size: [layout.page.width * MM, layout.page.height * MM], margin: 0 })
    }
    const col = slot % layout.columns
    const row = Math.floor(slot / layout.columns)
    const x0 = layout.margin.left + col * (layout.label.width + layout.gap.x)
    const y0 = layout.margin.top + row * (layout.label.height + layout.gap.y)
    drawLabel(doc, layout, d, x0, y0, o.urlTemplate, measure)
    n++
    o.onLabel?.(n)
  }
  doc.end()
  await ended
  return n
}

function drawLabel(
  doc: PDFKit.PDFDocument,
  layout: LabelLayout,
  d: LabelData,
  x0: number,
  y0: number,
  urlTemplate: string | undefined,
  measure: (t: string, pt: number, bold: boolean) => number,
): void {
  const m = qrMatrix(labelPayload(d, urlTemplate))
  const module = layout.qrSize / (m.size + 2 * QUIET_ZONE)
  const qx = x0 + layout.padding + QUIET_ZONE * module
  const qy = y0 + (layout.label.height - layout.qrSize) / 2 + QUIET_ZONE * module
  // tiny overlap so viewers do not show hairlines between adjacent rectangles
  for (const [x, y, len] of qrRuns(m)) doc.rect((qx + x * module) * MM, (qy + y * module) * MM, len * module * MM, module * MM)
  doc.fillColor('black').fill()
  for (const l of placeLines(layout, d, measure)) {
    doc
      .font(l.bold ? 'Helvetica-Bold' : 'Helvetica')
      .fontSize(l.fontSize)
      .text(l.text, (x0 + layout.padding + layout.qrSize + layout.padding) * MM, (y0 + l.y) * MM, { lineBreak: false })
  }
}
