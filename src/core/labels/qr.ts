/** QR symbols for labels (the `qrcode` library; error-correction level M, as documented for the payload). */
import QRCode from 'qrcode'

export interface QrMatrix {
  /** Modules per side, without the quiet zone. */
  size: number
  version: number
  /** 1 = dark module, row-major, `size` × `size`. */
  data: Uint8Array
  /** True = dark module. */
  dark(x: number, y: number): boolean
}

/** The 4-module quiet zone a reader needs on every side. */
export const QUIET_ZONE = 4

export function qrMatrix(text: string): QrMatrix {
  const q = QRCode.create(text, { errorCorrectionLevel: 'M' })
  const { size, data } = q.modules
  return { size, version: q.version, data, dark: (x, y) => data[y * size + x] === 1 }
}

/**
 * Dark modules as horizontal runs `[x, y, length]`, so a renderer draws a few hundred rectangles per symbol rather than
 * one per module.
 */
export function qrRuns(m: QrMatrix): Array<[number, number, number]> {
  const runs: Array<[number, number, number]> = []
  const { size, data } = m
  for (let y = 0; y < size; y++) {
    const row = y * size
    let x = 0
    while (x < size) {
      if (data[row + x] !== 1) {
        x++
        continue
      }
      const start = x
      while (x < size && data[row + x] === 1) x++
      runs.push([start, y, x - start])
    }
  }
  return runs
}
