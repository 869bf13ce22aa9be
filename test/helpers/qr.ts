/**
 * Reading label output back as a scanner would: PDFs rendered to PNG by poppler's `pdftoppm`, every QR decoded with
 * jsQR (a decoder independent of the `qrcode` encoder lwprov uses). A sheet is cut into its label cells first, so each
 * decoded code is tied to the position it was printed at.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import jsQRModule from 'jsqr'
import { PNG } from 'pngjs'

import type { LabelLayout } from '../../src/core/labels/layout.js'

// jsqr is CommonJS with an `export default` typing: the function is the module itself or its `default`
type JsQr = (data: Uint8ClampedArray, width: number, height: number) => { data: string } | null
const jsQR: JsQr = ((jsQRModule as unknown as { default?: JsQr }).default ?? jsQRModule) as unknown as JsQr

export function decodePng(png: PNG): string | undefined {
  return jsQR(new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length), png.width, png.height)?.data
}

export function readPng(file: string): PNG {
  return PNG.sync.read(readFileSync(file))
}

/** Every page of `pdf` as an image at `dpi`. */
export function pdfPages(pdf: string, dpi = 200): PNG[] {
  const dir = mkdtempSync(join(tmpdir(), 'pdftoppm-'))
  try {
    execFileSync('pdftoppm', ['-r', String(dpi), '-png', pdf, join(dir, 'page')], { stdio: ['ignore', 'ignore', 'ignore'] })
    return readdirSync(dir)
      .sort()
      .map((f) => readPng(join(dir, f)))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function crop(src: PNG, x: number, y: number, w: number, h: number): PNG {
  const out = new PNG({ width: w, height: h })
  for (let r = 0; r < h; r++) {
    const sy = Math.min(src.height - 1, y + r)
    src.data.copy(out.data, r * w * 4, (sy * src.width + x) * 4, (sy * src.width + Math.min(src.width, x + w)) * 4)
  }
  return out
}

/** The QR content of every label cell of a rendered sheet page, row by row (undefined for an empty cell). */
export function decodeSheet(page: PNG, layout: LabelLayout, dpi = 200): Array<string | undefined> {
  const px = (mm: number) => Math.round((mm * dpi) / 25.4)
  const out: Array<string | undefined> = []
  for (let r = 0; r < layout.rows; r++) {
    for (let c = 0; c < layout.columns; c++) {
      const x = layout.margin.left + c * (layout.label.width + layout.gap.x)
      const y = layout.margin.top + r * (layout.label.height + layout.gap.y)
      out.push(decodePng(crop(page, px(x), px(y), px(layout.label.width), px(layout.label.height))))
    }
  }
  return out
}
