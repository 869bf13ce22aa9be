/** QR symbols for labels (the `qrcode` library; error-correction level M, as documented for the payload). */
import QRCode from 'qrcode'

export interface QrMatrix {
  /** Modules per side, without the quiet zone. */
  size: number
  version: number
  /** True = dark module, row-major. */
  dark(x: number, y: number): boolean
}

/** The 4-module quiet zone a reader needs on every side. */
export const QUIET_ZONE = 4

export function qrMatrix(text: string): QrMatrix {
  const q = QRCode.create(text, { errorCorrectionLevel: 'M' })
  const { size, data } = q.modules
  return { size, version: q.version, dark: (x, y) => data[y * size + x] === 1 }
}

/**
 * Dark modules as horizontal runs `[x, y, length]`, so a renderer draws a few hundred rectangles per symbol rather than
 * one per module.
 */
export function qrRuns(m: QrMatrix): Array<[number, number, number]> {
  const runs: Array<[number, number, number]> = []
  for (let y = 0; y < m.size; y++) {
    let x = 0
    while (x < m.size) {
      if (!m.dark(x, y)) {
        x++
        continue
      }
      const start = x
      while (x < m.size && m.dark(x, y)) x++
      runs.push([start, y, x - start])
    }
  }
  return runs
}
