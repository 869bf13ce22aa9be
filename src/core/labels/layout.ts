/**
 * Label layouts: one JSON file per label stock in `templates/labels/NAME.json` (or any path given to
 * `--label-layout`), so a factory adds its stock without code. All lengths are millimetres, font sizes points.
 * templates/labels/README.md documents the keys; {@link parseLayout} validates them.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

import { usageError } from '../errors.js'
import type { LabelData } from './payload.js'

/** One line of text on a label: `{endpoint}`, `{serial}`, `{claim}`, `{batch}`, `{seq}` are filled in. */
export interface LabelField {
  text: string
  /** Points; default the layout's `fontSize`. */
  fontSize?: number
  bold?: boolean
}

export interface LabelLayout {
  name: string
  description: string
  /** Page size (mm): a sheet, or the label itself for roll stock. */
  page: { width: number; height: number }
  label: { width: number; height: number }
  columns: number
  rows: number
  /** Offset of the first label from the page's top-left corner (mm). */
  margin: { top: number; left: number }
  /** Space between labels (mm). */
  gap: { x: number; y: number }
  /** Inner margin of a label (mm). */
  padding: number
  /** QR side including its quiet zone (mm); default: the label height minus padding. */
  qrSize: number
  /** Default text size (pt). */
  fontSize: number
  fields: LabelField[]
  /** Resolution of PNG labels (dots per inch). */
  pngDpi: number
  /** Resolution of the ZPL printer (dots per inch: 203, 300 or 600). */
  zplDpi: number
}

const PAGE_SIZES: Record<string, { width: number; height: number }> = {
  a4: { width: 210, height: 297 },
  letter: { width: 215.9, height: 279.4 },
  a5: { width: 148, height: 210 },
  legal: { width: 215.9, height: 355.6 },
}

export const DEFAULT_LAYOUT = 'a4-3x8'
const FIELD_RE = /\{(endpoint|serial|claim|batch|seq)\}/g

/** Where the built-in layouts live, from both src/ and dist/. */
export function builtinLayoutDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'templates', 'labels')
}

/** Names of the built-in layouts. */
export function builtinLayouts(): string[] {
  return readdirSync(builtinLayoutDir())
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -5))
    .sort()
}

/** Loads a layout by built-in name or by path to a JSON file. */
export function loadLayout(nameOrPath: string = DEFAULT_LAYOUT): LabelLayout {
  const builtin = /^[a-z0-9][a-z0-9._-]*$/i.test(nameOrPath) && !nameOrPath.endsWith('.json') ? resolve(builtinLayoutDir(), `${nameOrPath}.json`) : undefined
  const file = builtin && existsSync(builtin) ? builtin : nameOrPath
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    throw usageError('E_LABEL_LAYOUT_UNKNOWN', `No label layout ${nameOrPath}.`, `Built-in layouts: ${builtinLayouts().join(', ')}; or pass a path to a layout JSON file.`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    throw layoutError(file, `not valid JSON (${(e as Error).message})`)
  }
  return parseLayout(json, file)
}

function layoutError(where: string, why: string) {
  return usageError('E_LABEL_LAYOUT_INVALID', `Label layout ${where}: ${why}.`, 'See templates/labels/README.md for the layout keys.')
}

/** Validates a parsed layout JSON and fills in defaults. */
export function parseLayout(json: unknown, where: string): LabelLayout {
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw layoutError(where, 'expected a JSON object')
  const j = json as Record<string, unknown>
  const num = (v: unknown, key: string, min: number, max: number, dflt?: number): number => {
    if (v === undefined && dflt !== undefined) return dflt
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw layoutError(where, `"${key}" must be a number in ${min}..${max}`)
    return v
  }
  const obj = (v: unknown, key: string): Record<string, unknown> => {
    if (v === undefined) return {}
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw layoutError(where, `"${key}" must be an object`)
    return v as Record<string, unknown>
  }
  const lab = obj(j.label, 'label')
  const label = { width: num(lab.width, 'label.width', 5, 1000), height: num(lab.height, 'label.height', 5, 1000) }
  const columns = Math.trunc(num(j.columns, 'columns', 1, 50, 1))
  const rows = Math.trunc(num(j.rows, 'rows', 1, 100, 1))
  const m = obj(j.margin, 'margin')
  const margin = { top: num(m.top, 'margin.top', 0, 500, 0), left: num(m.left, 'margin.left', 0, 500, 0) }
  const g = obj(j.gap, 'gap')
  const gap = { x: num(g.x, 'gap.x', 0, 500, 0), y: num(g.y, 'gap.y', 0, 500, 0) }
  let page: { width: number; height: number }
  if (typeof j.page === 'string') {
    const p = PAGE_SIZES[j.page.toLowerCase()]
    if (!p) throw layoutError(where, `unknown page size "${j.page}" (${Object.keys(PAGE_SIZES).join(', ')}, or {"width","height"} in mm)`)
    page = p
  } else if (j.page === undefined) {
    page = { width: margin.left + columns * label.width + (columns - 1) * gap.x, height: margin.top + rows * label.height + (rows - 1) * gap.y }
  } else {
    const p = obj(j.page, 'page')
    page = { width: num(p.width, 'page.width', 5, 2000), height: num(p.height, 'page.height', 5, 2000) }
  }
  const usedW = margin.left + columns * label.width + (columns - 1) * gap.x
  const usedH = margin.top + rows * label.height + (rows - 1) * gap.y
  if (usedW > page.width + 0.01 || usedH > page.height + 0.01) throw layoutError(where, `${columns} × ${rows} labels with these margins and gaps do not fit the ${page.width} × ${page.height} mm page`)
  const padding = num(j.padding, 'padding', 0, 50, 2)
  const qrMax = Math.min(label.height, label.width) - 2 * padding
  if (qrMax < 5) throw layoutError(where, 'the padding leaves no room for the QR code')
  const qrSize = num(j.qrSize, 'qrSize', 5, qrMax, qrMax)
  const fontSize = num(j.fontSize, 'fontSize', 3, 72, 8)
  const rawFields = j.fields ?? [{ text: '{endpoint}' }, { text: '{claim}', bold: true }]
  if (!Array.isArray(rawFields) || rawFields.length > 10) throw layoutError(where, '"fields" must be an array of at most 10 {"text"} objects')
  const fields = rawFields.map((f, i): LabelField => {
    const o = obj(f, `fields[${i}]`)
    if (typeof o.text !== 'string' || o.text.length > 200) throw layoutError(where, `fields[${i}].text must be a string`)
    const unknown = [...o.text.matchAll(/\{([^}]*)\}/g)].map((x) => x[1]).filter((x) => !['endpoint', 'serial', 'claim', 'batch', 'seq'].includes(x!))
    if (unknown.length > 0) throw layoutError(where, `fields[${i}] uses {${unknown.join('}, {')}}; known: {endpoint} {serial} {claim} {batch} {seq}`)
    return { text: o.text, ...(o.fontSize === undefined ? {} : { fontSize: num(o.fontSize, `fields[${i}].fontSize`, 3, 72) }), ...(o.bold ? { bold: true } : {}) }
  })
  const dpi = (v: unknown, key: string, d: number) => Math.trunc(num(v, key, 72, 1200, d))
  return {
    name: typeof j.name === 'string' ? j.name : where,
    description: typeof j.description === 'string' ? j.description : '',
    page,
    label,
    columns,
    rows,
    margin,
    gap,
    padding,
    qrSize,
    fontSize,
    fields,
    pngDpi: dpi(j.pngDpi, 'pngDpi', 300),
    zplDpi: dpi(j.zplDpi, 'zplDpi', 203),
  }
}

/** The text lines of one label: a field naming a value the label does not have (a reprint's claim code) is left out. */
export function labelLines(layout: LabelLayout, d: LabelData): Array<{ text: string; fontSize: number; bold: boolean }> {
  const values: Record<string, string> = {
    endpoint: d.endpoint,
    serial: d.serial ?? '',
    claim: d.claim ?? '',
    batch: d.batch ?? '',
    seq: d.seq === undefined ? '' : String(d.seq),
  }
  const out: Array<{ text: string; fontSize: number; bold: boolean }> = []
  for (const f of layout.fields) {
    const names = [...f.text.matchAll(FIELD_RE)].map((m) => m[1]!)
    if (names.some((n) => values[n] === '')) continue
    // printable ASCII only: the PDF standard fonts, the PNG bitmap font and ZPL's font 0 all have it
    const text = f.text.replace(FIELD_RE, (_, n: string) => values[n]!).replace(/[^\x20-\x7e]/g, '?')
    out.push({ text, fontSize: f.fontSize ?? layout.fontSize, bold: f.bold ?? false })
  }
  return out
}

/** Millimetres → PDF points. */
export const MM = 72 / 25.4

export interface PlacedLine {
  text: string
  fontSize: number
  bold: boolean
  /** Top of the line from the label's top edge (mm). */
  y: number
}

/** Where text goes on a label: right of the QR code. */
export function textBox(layout: LabelLayout): { x: number; y: number; width: number; height: number } {
  const x = layout.padding + layout.qrSize + layout.padding
  return { x, y: layout.padding, width: Math.max(0, layout.label.width - x - layout.padding), height: layout.label.height - 2 * layout.padding }
}

/**
 * Lays the text lines out in the text box: a line wider than the box wraps by character (endpoint names have no
 * spaces), what does not fit the box's height is dropped (the last kept line ending in `~`), and the block is centred vertically. `measure` gives the
 * width in mm of a string at a point size, for the renderer's font.
 */
export function placeLines(layout: LabelLayout, d: LabelData, measure: (text: string, pt: number, bold: boolean) => number): PlacedLine[] {
  const box = textBox(layout)
  if (box.width < 3) return []
  const out: PlacedLine[] = []
  let y = box.y
  for (const line of labelLines(layout, d)) {
    const lh = (line.fontSize * 1.2) / MM
    let rest = line.text
    while (rest.length > 0) {
      if (y + lh > box.y + box.height + 0.01) {
        const last = out.at(-1)
        if (last && !last.text.endsWith('~')) last.text = `${last.text.slice(0, -1)}~`
        return out
      }
      let n = rest.length
      while (n > 1 && measure(rest.slice(0, n), line.fontSize, line.bold) > box.width) n--
      out.push({ text: rest.slice(0, n), fontSize: line.fontSize, bold: line.bold, y })
      rest = rest.slice(n)
      y += lh
    }
  }
  // the block is centred vertically beside the (centred) QR code
  const shift = Math.max(0, (box.y + box.height - y) / 2)
  for (const l of out) l.y += shift
  return out
}
