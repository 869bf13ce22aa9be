/**
 * Where labels go and in which format: a PDF sheet, a ZPL file, a CSV (one file each), a directory of PNGs, or a
 * ZPL printer reached through a connection the caller supplies (the composition root owns sockets). Every file goes
 * through the safe-write helper; a file holding claim codes is a secret (created new, 0600, never replacing anything
 * without --force, never the manifest).
 *
 * Open the output before the work that produces the claim codes (`openLabelOutput` checks the target and creates the
 * temporary), then `write` the labels: nothing is visible under the final name until every label is written.
 */
import type { Writable } from 'node:stream'

import { usageError } from '../errors.js'
import { createOutputDir, type OutputDir, type OutputFile, openOutputFile, safeFileName } from '../fs/safe-write.js'
import { csvSafe } from '../validate/escape.js'
import { DEFAULT_LAYOUT, type LabelLayout, loadLayout } from './layout.js'
import type { LabelData } from './payload.js'
import { renderPdf } from './pdf.js'
import { renderPngLabel } from './png.js'
import { renderZplLabel } from './zpl.js'

export const LABEL_FORMATS = ['pdf', 'png', 'zpl', 'csv'] as const
export type LabelFormat = (typeof LABEL_FORMATS)[number]

/** A connection to a label printer (`tcp://HOST:PORT`): bytes in, `close` once everything is sent. */
export interface PrinterConnection {
  readonly stream: Writable
  close(): Promise<void>
  destroy(): void
}
export type PrinterConnector = (url: string) => Promise<PrinterConnection>

export function isPrinterUrl(target: string): boolean {
  return /^tcp:\/\//i.test(target)
}

/**
 * The format for a target: `--label-format` when given, else ZPL for a printer URL, else the extension (.pdf, .zpl,
 * .csv); a path ending in `/`, `.png` or naming an existing directory is a PNG directory.
 */
export function labelFormatFor(target: string, explicit?: string, isDir = false, flag = '--labels'): LabelFormat {
  if (explicit) {
    if (!(LABEL_FORMATS as readonly string[]).includes(explicit)) throw usageError('E_LABEL_FORMAT_UNKNOWN', `Unknown label format ${explicit}.`, `Use --label-format ${LABEL_FORMATS.join('|')}.`)
    if (isPrinterUrl(target) && explicit !== 'zpl') throw usageError('E_LABEL_FORMAT_UNKNOWN', `A printer (${target}) takes ZPL, not ${explicit}.`, 'Use --label-format zpl, or write a file.')
    return explicit as LabelFormat
  }
  if (isPrinterUrl(target)) return 'zpl'
  const ext = /\.([a-z0-9]+)$/i.exec(target)?.[1]?.toLowerCase()
  if (ext === 'pdf' || ext === 'zpl' || ext === 'csv') return ext
  if (ext === 'png' || target.endsWith('/') || isDir) return 'png'
  throw usageError(
    'E_LABEL_FORMAT_UNKNOWN',
    `Cannot tell the label format of ${target} from its name.`,
    `Name it .pdf, .zpl or .csv, end a PNG directory with /, or pass --label-format ${LABEL_FORMATS.join('|')} (${flag}).`,
  )
}

export interface LabelOutputOptions {
  format: LabelFormat
  /** Layout name or path; default a4-3x8 for PDF, roll-50x25 for PNG and ZPL. */
  layout?: string | undefined
  urlTemplate?: string | undefined
  /** Claim codes in the output: a secret file (0600, temporary recorded for clean-up). */
  secret: boolean
  force?: boolean | undefined
  flag?: string
  title?: string
  connect?: PrinterConnector
}

export interface LabelOutput {
  readonly target: string
  readonly format: LabelFormat
  readonly layout: LabelLayout
  /** Renders every label and commits; returns how many were written. */
  write(labels: AsyncIterable<LabelData> | Iterable<LabelData>): Promise<number>
  /** Removes whatever was started; the target is untouched. */
  abort(): Promise<void>
}

export function defaultLayoutFor(format: LabelFormat): string {
  return format === 'pdf' ? DEFAULT_LAYOUT : 'roll-50x25'
}

/** Checks the target and opens it (file temporary, directory or printer connection). */
export async function openLabelOutput(target: string, o: LabelOutputOptions): Promise<LabelOutput> {
  const layout = loadLayout(o.layout ?? defaultLayoutFor(o.format))
  const flag = o.flag ?? '--labels'
  const base = { target, format: o.format, layout }
  if (isPrinterUrl(target)) {
    if (!o.connect) throw usageError('E_LABEL_FORMAT_UNKNOWN', `${flag} cannot print to ${target} here.`, 'Write a file instead.')
    const conn = await o.connect(target)
    return {
      ...base,
      async write(labels) {
        let n = 0
        try {
          for await (const d of labels) {
            await writeChunk(conn.stream, renderZplLabel(d, layout, o.urlTemplate))
            n++
          }
          await conn.close()
        } catch (e) {
          conn.destroy()
          throw e
        }
        return n
      },
      abort: async () => conn.destroy(),
    }
  }
  if (o.format === 'png') {
    const dir: OutputDir = createOutputDir(target, { force: o.force ?? false, secret: o.secret, flag })
    let written = false
    return {
      ...base,
      async write(labels) {
        let n = 0
        try {
          for await (const d of labels) {
            const f = dir.file(safeFileName(d.endpoint, '.png'), { secret: o.secret })
            await writeChunk(f.stream, renderPngLabel(d, layout, o.urlTemplate))
            await f.commit()
            n++
          }
        } catch (e) {
          await dir.abort()
          throw e
        }
        written = true
        return n
      },
      // after a complete write the files are the result: nothing to undo
      abort: async () => (written ? undefined : dir.abort()),
    }
  }
  const file: OutputFile = openOutputFile(target, { force: o.force ?? false, secret: o.secret, flag })
  return {
    ...base,
    async write(labels) {
      let n = 0
      try {
        if (o.format === 'pdf') {
          n = await renderPdf(labels, layout, file.stream, { urlTemplate: o.urlTemplate, title: o.title ?? 'lwprov labels' })
        } else {
          if (o.format === 'csv') await writeChunk(file.stream, 'batch,endpoint,seq,claim_code\n')
          for await (const d of labels) {
            await writeChunk(file.stream, o.format === 'zpl' ? renderZplLabel(d, layout, o.urlTemplate) : csvRow(d))
            n++
          }
        }
        await file.commit()
      } catch (e) {
        await file.abort()
        throw e
      }
      return n
    },
    abort: () => file.abort(),
  }
}

/** One CSV row for label software, in the columns lwprov's labels CSV always had. */
function csvRow(d: LabelData): string {
  const esc = (v: string) => {
    const s = csvSafe(v)
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
  }
  return `${[d.batch ?? '', d.endpoint, d.seq === undefined ? '' : String(d.seq), d.claim ?? ''].map(esc).join(',')}\n`
}

/** Writes with backpressure: waits for `drain` when the stream's buffer is full. */
function writeChunk(stream: Writable, chunk: string | Buffer): Promise<void> {
  return new Promise((res, rej) => {
    const onError = (e: Error) => rej(e)
    stream.once('error', onError)
    const ok = stream.write(chunk, (e) => {
      if (e) return
      if (ok) {
        stream.off('error', onError)
        res()
      }
    })
    if (!ok)
      stream.once('drain', () => {
        stream.off('error', onError)
        res()
      })
  })
}
