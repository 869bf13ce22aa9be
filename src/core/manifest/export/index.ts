/**
 * Streaming manifest export: rows come from `store.list()` page by page and leave through a small write buffer that
 * honours back-pressure, so a million-row export runs in flat memory. Files are written to a temporary name and
 * renamed at the end, so a failed export never leaves a half file behind; `digest` adds `FILE.sha256` beside.
 * Temporary files can hold plaintext secrets, so every live one is registered and removed on failure, and a command
 * can remove them from a signal handler with `removeExportTemps()`.
 */
import { createHash } from 'node:crypto'
import { rmSync } from 'node:fs'
import { basename, dirname, extname, join } from 'node:path'
import type { Writable } from 'node:stream'

import { LwprovError, usageError } from '../../errors.js'
import { createOutputDir, openOutputFile, type OutputDir, type OutputFile, removeLiveTemps, writeOutputFile } from '../../fs/safe-write.js'
import { openSecrets } from '../secrets.js'
import type { ManifestFilter, ManifestRecord, ManifestStore } from '../types.js'
import { type ExportFormat, type ExportOptionsBase, type FormatContext, getFormat } from './formats.js'

export { FORMAT_NAMES, FORMATS, getFormat, izumaEnrollmentId, signedBytes, type ExportFormat } from './formats.js'
export { certificateDer, csvField, parseCsv, ROW_FIELDS, toExportRow, type ExportRow } from './rows.js'

export interface ExportOptions extends ExportOptionsBase {
  filter?: ManifestFilter
  /** Open and include PSKs / private keys (needs `masterKey`). */
  includeSecrets?: boolean
  masterKey?: Buffer
  /** The rows were already checked by {@link validateExport} (skips the dry run). */
  validated?: boolean
}

/** One output stream of an export. */
export interface ExportWriter {
  write(text: string): Promise<void>
  /** Finishes the output; `ok` false discards it (files) after an error. */
  end(ok: boolean): Promise<void>
}

/** Where an export goes: stdout, a file, numbered files or a directory. */
export interface ExportTarget {
  /** Opens output `part` (1-based) of `parts`, or the file `name` of a directory layout. */
  open(o: { part: number; parts: number; name?: string; ext: string }): Promise<ExportWriter>
  /** Called once at the end (directory digests). */
  finish?(ok: boolean): Promise<void>
  /** Paths written (files targets). */
  readonly files: string[]
  /** True when the output can take no more bytes (a stream whose reader went away). */
  closed?(): boolean
}

export interface ExportResult {
  format: string
  /** Namespace id of the exported manifest. */
  manifest?: string
  rows: number
  files: string[]
}

const FLUSH_AT = 64 * 1024

/**
 * Removes every temporary file of an export in progress, synchronously (signal handlers). The safe-output helper
 * already does this on exit, SIGINT, SIGTERM and SIGHUP; kept for callers that exit by other means.
 */
export function removeExportTemps(): string[] {
  return removeLiveTemps()
}

/** Thrown by a stream writer whose stream was closed under it (a reader that went away: `| head`, EPIPE). */
export class OutputClosedError extends Error {
  readonly code = 'EPIPE'
  constructor() {
    super('the output stream was closed')
  }
}

/** A writer over a Node stream: buffers small writes, waits for 'drain' when the stream is full. */
export function streamWriter(stream: Writable, onEnd?: (ok: boolean) => Promise<void>, hash?: (s: string) => void): ExportWriter {
  let buf = ''
  const flush = async () => {
    if (!buf) return
    const chunk = buf
    buf = ''
    hash?.(chunk)
    if (closed()) throw new OutputClosedError()
    if (!stream.write(chunk)) await new Promise<void>((res, rej) => {
      const onErr = (e: Error) => rej(e)
      stream.once('error', onErr)
      stream.once('drain', () => {
        stream.off('error', onErr)
        res()
      })
    })
  }
  // A destroyed stream (the reader went away) ends the export at the next row instead of reading the whole manifest.
  const closed = () => stream.destroyed || stream.writableEnded
  return {
    async write(text) {
      if (closed()) throw new OutputClosedError()
      buf += text
      if (buf.length >= FLUSH_AT) await flush()
    },
    async end(ok) {
      if (ok) await flush()
      else buf = ''
      await onEnd?.(ok)
    },
  }
}

/** Export to a stream (stdout): chunked formats become one output after another, `dir` formats one bundle. */
export function streamTarget(stream: Writable): ExportTarget {
  return {
    files: [],
    closed: () => stream.destroyed || stream.writableEnded,
    async open() {
      return streamWriter(stream)
    },
  }
}

/** Exports keep their own code for a path that cannot be written (`E_EXPORT_WRITE`); refusals keep theirs. */
const EXPORT_WRITE_CODES = new Set(['E_OUTPUT_WRITE', 'E_OUTPUT_IS_DIRECTORY', 'E_OUTPUT_NOT_A_DIRECTORY'])
async function asExportError<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (e) {
    if (e instanceof LwprovError && EXPORT_WRITE_CODES.has(e.code)) {
      const path = String(e.details?.path ?? '')
      const errno = e.details?.errno as string | undefined
      const why = errno === 'ENOTDIR' || errno === 'EEXIST' ? 'a parent of it is a file, not a directory' : errno === 'EISDIR' ? 'it is a directory' : e.message
      throw usageError('E_EXPORT_WRITE', `Cannot write ${path}: ${why}${errno ? ` (${errno})` : ''}.`, 'Check --out: its parent must be a directory you can write (for pem, --out names a directory).', { path, ...(errno ? { errno } : {}) })
    }
    throw e
  }
}

/**
 * Export to files, through the safe-output helper (new files only unless `force`; never the manifest or a CA file).
 * Single formats write `path`; chunked formats write `path` when one file suffices, else `name-001.ext`,
 * `name-002.ext`…; `dir` formats write one file per row inside the directory `path`. `secret` marks the files as
 * holding plaintext secrets (their temporaries are recorded so a later run removes them after a SIGKILL).
 */
export function fileTarget(path: string, opts: { digest?: boolean; mode?: number; force?: boolean; secret?: boolean } = {}): ExportTarget {
  const files: string[] = []
  const dirSums: string[] = []
  const mode = opts.mode ?? 0o600
  const fopts = { mode, force: opts.force ?? false, secret: opts.secret ?? false }
  // outputs of this target not yet committed, and the ones committed: all go on failure, whatever step failed
  const pending = new Set<OutputFile>()
  const committed: string[] = []
  let dir: OutputDir | undefined
  const t: ExportTarget = {
    files,
    async open({ part, parts, name }) {
      const out: OutputFile = await asExportError(() => {
        if (name !== undefined) {
          dir ??= createOutputDir(path, { ...fopts, secret: fopts.secret })
          return dir.file(name, { mode, secret: fopts.secret })
        }
        let file = path
        if (parts > 1) {
          const ext = extname(path)
          file = join(dirname(path), `${basename(path, ext)}-${String(part).padStart(3, '0')}${ext}`)
        }
        return openOutputFile(file, fopts)
      })
      pending.add(out)
      const h = createHash('sha256')
      return streamWriter(
        out.stream,
        async (ok) => {
          pending.delete(out)
          if (!ok) return out.abort()
          await asExportError(() => out.commit())
          if (name === undefined) committed.push(out.path)
          files.push(out.path)
          const sum = h.digest('hex')
          if (name !== undefined) dirSums.push(`${sum}  ${name}\n`)
          else if (opts.digest) {
            const side = await asExportError(() => writeOutputFile(`${out.path}.sha256`, `${sum}  ${basename(out.path)}\n`, { mode: 0o644, force: fopts.force }))
            committed.push(side)
            files.push(side)
          }
        },
        (s) => h.update(s),
      )
    },
    async finish(ok) {
      if (!ok) {
        for (const o of [...pending]) await o.abort()
        pending.clear()
        await dir?.abort()
        // an export is all or nothing: parts already committed by this run go too
        for (const f of committed) rmSync(f, { force: true })
        return
      }
      if (opts.digest && dir) {
        const sums = dir.file('SHA256SUMS', { mode: 0o644 })
        await new Promise<void>((res, rej) => sums.stream.write(dirSums.join(''), (e) => (e ? rej(e) : res())))
        await sums.commit()
        files.push(sums.path)
      }
    },
  }
  return t
}

/**
 * With `includeSecrets`, opens the first sealed row `filter` selects before anything is written, so a wrong master
 * key fails cleanly (`E_SECRET_UNSEALABLE`, exit 6) instead of after a streamed header. Stops at the first sealed row;
 * scans the selection only when no row holds a secret.
 */
export async function checkMasterKey(store: ManifestStore, filter: ManifestFilter, masterKey: Buffer): Promise<void> {
  for await (const r of store.list(filter)) {
    if (!r.secret) continue
    openSecrets(masterKey, r.secret, r.endpoint)
    return
  }
}

/** A target that writes nothing: the dry run of {@link validateExport}. */
const NULL_TARGET: ExportTarget = {
  files: [],
  async open() {
    return { async write() {}, async end() {} }
  },
}

/**
 * Formats every row the export would write, writing nothing: throws what the export would throw mid-stream. For
 * callers that write something of their own before the rows (the --json envelope's opening).
 */
export async function validateExport(store: ManifestStore, format: string | ExportFormat, opts: ExportOptions): Promise<void> {
  const f = typeof format === 'string' ? getFormat(format) : format
  // A wrong master key is named at the first sealed row, before any other row is formatted.
  if (opts.includeSecrets && opts.masterKey) await checkMasterKey(store, exportFilter(f, opts), opts.masterKey)
  await exportManifest(store, f, { ...opts, validated: true }, NULL_TARGET)
}

/**
 * The rows an export selects. A server gets the devices that hold (or are about to get) credentials: reserved names
 * have none, failed rows' credentials are on no device. A --status filter says otherwise.
 */
function exportFilter(f: ExportFormat, opts: ExportOptions): ManifestFilter {
  return f.server && opts.filter?.status === undefined ? { ...opts.filter, status: [...SERVER_DEFAULT_STATUSES] } : (opts.filter ?? {})
}

/** Streams the rows `opts.filter` selects into `target` in `format`. */
/** Statuses a server format exports when no --status filter is given. */
export const SERVER_DEFAULT_STATUSES = ['generated', 'injected', 'verified'] as const

export async function exportManifest(store: ManifestStore, format: string | ExportFormat, opts: ExportOptions, target: ExportTarget): Promise<ExportResult> {
  const f = typeof format === 'string' ? getFormat(format) : format
  if (opts.includeSecrets && !opts.masterKey) {
    throw usageError('E_MASTER_KEY_MISSING', '--include-secrets needs the manifest master key to open the sealed secrets.', 'Set LWPROV_MASTER_KEY or pass --key-file.')
  }
  const filter = exportFilter(f, opts)
  if (!opts.validated) {
    // A reader that is already gone (`| head` closed) ends the export before the manifest is read at all.
    if (target.closed?.()) throw new OutputClosedError()
    // All or nothing: every row is formatted once without output first, so a row that cannot be exported (a secret
    // that does not open, a PSK without its key, too many devices…) fails before the first byte or file exists.
    await validateExport(store, f, opts)
  }
  const parts = f.layout === 'chunked' && f.chunk ? Math.max(1, Math.ceil((await store.count(filter)) / f.chunk)) : 1
  const ctx: FormatContext = { index: 0, total: 0, includeSecrets: Boolean(opts.includeSecrets), secrets: undefined, options: opts }
  let w: ExportWriter | undefined
  let part = 0
  const startPart = async () => {
    part++
    w = await target.open({ part, parts, ext: f.ext })
    ctx.index = 0
    if (f.head) await w.write(f.head(opts))
  }
  const endPart = async (ok: boolean) => {
    if (!w) return
    if (ok && f.tail) await w.write(f.tail(opts))
    const cur = w
    w = undefined
    await cur.end(ok)
  }
  const secretsOf = (r: ManifestRecord) => (opts.includeSecrets && r.secret && opts.masterKey ? openSecrets(opts.masterKey, r.secret, r.endpoint) : undefined)
  let ok = false
  try {
    if (f.layout !== 'dir') await startPart()
    for await (const r of store.list(filter)) {
      ctx.secrets = secretsOf(r)
      const text = f.row(r, ctx)
      if (text === undefined) continue
      if (f.layout === 'dir') {
        const dw = await target.open({ part: 0, parts: 0, name: f.fileName!(r), ext: f.ext })
        await dw.write(text)
        await dw.end(true)
      } else {
        await w!.write(text)
        if (f.layout === 'chunked' && f.chunk && ctx.index + 1 >= f.chunk) {
          await endPart(true)
          await startPart()
          ctx.total++
          continue
        }
      }
      ctx.index++
      ctx.total++
    }
    // a chunked export that ended exactly on a boundary opened an empty extra part: drop it unless it is the only one
    if (w && f.layout === 'chunked' && ctx.index === 0 && ctx.total > 0) await endPart(false)
    else await endPart(true)
    ok = true
  } finally {
    if (!ok) await endPart(false).catch(() => undefined)
    await target.finish?.(ok)
  }
  return { format: f.name, ...(opts.manifest ? { manifest: opts.manifest.namespace } : {}), rows: ctx.total, files: target.files }
}
