/**
 * The one way lwprov writes an output file (exports, labels, devcert files, CA directories, sim stores). Rules:
 *
 * - The bytes go to a new temporary file created `O_CREAT|O_EXCL|O_NOFOLLOW` beside the final name (same file
 *   system, so the final step is an atomic rename or link) and nothing is visible under the final name until commit.
 * - An existing target is refused (`E_OUTPUT_EXISTS`, exit 2) unless `force`; a symlink is never followed (with
 *   `force` the link itself is replaced, never its target).
 * - Protected files are refused even with `force` (`E_OUTPUT_PROTECTED`): paths registered with `protectPath` (the
 *   open manifest and its -wal/-shm, CA files, lwprov's own directories), anything that looks like a SQLite database
 *   or an encrypted private key, and the files of a CA directory.
 * - Temporary files carry a recognisable name (`.NAME.lwprov-tmp-PID-RAND`); secret-bearing ones are also recorded in
 *   a 0700 state directory (see temp-registry.ts) so a later run removes what a SIGKILL left behind, and every live
 *   temporary is removed on exit, SIGINT, SIGTERM and SIGHUP.
 *
 * Core module: no UI imports; warnings go through the caller.
 */
import { randomBytes } from 'node:crypto'
import {
  closeSync,
  constants,
  createWriteStream,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  type Stats,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { basename, dirname, join, resolve, sep } from 'node:path'
import type { Writable } from 'node:stream'

import { LwprovError, usageError } from '../errors.js'
import { forgetTemp, recordTemp } from './temp-registry.js'

export interface OutputOptions {
  /** Replace an existing (unprotected) target. */
  force?: boolean
  /** File mode; default 0600 (0644 is for public files such as certificates). */
  mode?: number
  /** The file holds plaintext secrets: its temporary is recorded so a later run can remove it after a SIGKILL. */
  secret?: boolean
  /** Flag named in errors (default `--out`). */
  flag?: string
}

export interface OutputFile {
  /** Writes go to the temporary file until `commit`. */
  readonly stream: Writable
  /** The final path (absolute). */
  readonly path: string
  /** Ends the stream and moves the file into place; refuses (and removes the temporary) if the target changed. */
  commit(): Promise<void>
  /** Ends the stream and removes the temporary; the target is untouched. Safe to call after commit (no-op). */
  abort(): Promise<void>
}

// ---------------------------------------------------------------------------------------------------------------
// Protected paths

const protectedFiles = new Set<string>()
const protectedDirs = new Set<string>()

/** Real path of `p` when it exists (symlinks resolved), else its absolute path. */
function canonical(p: string): string {
  const abs = resolve(p)
  try {
    return realpathSync(abs)
  } catch {
    try {
      return join(realpathSync(dirname(abs)), basename(abs))
    } catch {
      return abs
    }
  }
}

/**
 * Registers a path no output may ever replace, even with `--force`: a file (the open manifest — its `-wal`, `-shm`
 * and `-journal` are covered too) or, with `dir`, a directory and everything in it (a CA directory, lwprov state).
 */
export function protectPath(path: string, opts: { dir?: boolean } = {}): void {
  const c = canonical(path)
  if (opts.dir) protectedDirs.add(c)
  else for (const s of ['', '-wal', '-shm', '-journal']) protectedFiles.add(c + s)
}

/** Test hook: forget every registration. */
export function clearProtectedPaths(): void {
  protectedFiles.clear()
  protectedDirs.clear()
}

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1')
const CA_FILE_NAMES = new Set(['ca.pem', 'chain.pem', 'ca.key.pem'])

function head(path: string, n: number): Buffer {
  let fd: number | undefined
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
    const buf = Buffer.alloc(n)
    const got = readSync(fd, buf, 0, n, 0)
    return buf.subarray(0, got)
  } catch {
    return Buffer.alloc(0)
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/** Why `path` must never be replaced, or undefined. `st` is its lstat. */
export function protectedReason(path: string, st?: Stats): string | undefined {
  const c = canonical(path)
  if (protectedFiles.has(c)) return 'it is the manifest in use'
  for (const d of protectedDirs) if (c === d || c.startsWith(d + sep)) return `it is inside ${d}, a directory lwprov owns`
  let s = st
  if (!s) {
    try {
      s = lstatSync(path)
    } catch {
      return undefined
    }
  }
  const name = basename(c)
  const sqliteSibling = /-(wal|shm|journal)$/.exec(name)
  if (sqliteSibling && head(c.slice(0, -sqliteSibling[0].length), 16).equals(SQLITE_MAGIC)) return 'it belongs to a SQLite database (a manifest)'
  if (CA_FILE_NAMES.has(name) && existsFile(join(dirname(c), 'ca.key.pem'))) return 'it is a file of a CA directory'
  if (!s.isFile()) return undefined
  const h = head(c, 64)
  if (h.subarray(0, 16).equals(SQLITE_MAGIC)) return 'it is a SQLite database (a manifest?)'
  const text = h.toString('latin1')
  if (/^-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/.test(text) || /^-----BEGIN (EC|RSA) PRIVATE KEY-----/.test(text)) return 'it holds a private key'
  return undefined
}

function existsFile(p: string): boolean {
  try {
    return lstatSync(p).isFile()
  } catch {
    return false
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Checks

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') throw writeFailed(p, e)
    throw writeFailed(p, e)
  }
}

export function outputExistsError(path: string, flag = '--out'): LwprovError {
  return usageError('E_OUTPUT_EXISTS', `${path} already exists; lwprov does not replace files it did not create.`, `Choose a new ${flag} path, or pass --force to replace it.`, { path })
}

function protectedError(path: string, why: string, flag: string): LwprovError {
  return usageError('E_OUTPUT_PROTECTED', `Refusing to write ${path}: ${why}. Not even --force replaces it.`, `Choose another ${flag} path.`, { path })
}

function writeFailed(path: string, e: unknown): LwprovError {
  const errno = (e as NodeJS.ErrnoException).code
  return new LwprovError('E_OUTPUT_WRITE', `Cannot write ${path}: ${errno === 'ENOTDIR' ? 'a parent of it is a file, not a directory' : (e as Error).message}.`, {
    hint: 'Check the output path: its parent must be a directory you can write.',
    exit: 'usage',
    cause: e,
    details: { path, ...(errno ? { errno } : {}) },
  })
}

/**
 * What a target is: absent, a regular file / symlink that may be replaced (with force), or a special file (device,
 * FIFO: written in place, never renamed over). Throws the coded refusal otherwise. Call it before any work is done
 * so a refused output costs nothing (no endpoint issued, no CA slot used).
 */
export function assertOutputTarget(path: string, opts: OutputOptions = {}): 'new' | 'replace' | 'special' {
  const abs = resolve(path)
  const flag = opts.flag ?? '--out'
  const st = lstatOrUndefined(abs)
  if (!st) {
    const why = protectedReason(abs)
    if (why) throw protectedError(abs, why, flag)
    return 'new'
  }
  if (st.isDirectory()) throw usageError('E_OUTPUT_IS_DIRECTORY', `${abs} is a directory.`, `Pass ${flag} a file name.`, { path: abs, errno: 'EISDIR' })
  const why = protectedReason(abs, st)
  if (why) throw protectedError(abs, why, flag)
  if (!st.isFile() && !st.isSymbolicLink()) return 'special'
  if (!opts.force) throw outputExistsError(abs, flag)
  return 'replace'
}

// ---------------------------------------------------------------------------------------------------------------
// Live temporaries: removed on exit and on SIGINT / SIGTERM / SIGHUP

const liveTemps = new Map<string, { secret: boolean }>()
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
const SIGNAL_EXIT: Record<(typeof SIGNALS)[number], number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 }
let handlersInstalled = false

/** Removes every temporary file of this process synchronously (signal handlers, exit). Returns the paths removed. */
export function removeLiveTemps(): string[] {
  const removed: string[] = []
  for (const [t, info] of liveTemps) {
    try {
      rmSync(t, { force: true })
      removed.push(t)
      if (info.secret) forgetTemp(t)
    } catch {
      // best effort: the process is going down; the file is 0600 and recorded for the next run
    }
  }
  liveTemps.clear()
  return removed
}

function onSignal(sig: (typeof SIGNALS)[number]): void {
  removeLiveTemps()
  // Another handler (a command's own graceful stop) decides when to exit; alone, exit as the signal would.
  if (process.listenerCount(sig) <= 1) process.exit(SIGNAL_EXIT[sig])
}

function onExit(): void {
  removeLiveTemps()
}

function installHandlers(): void {
  if (handlersInstalled) return
  handlersInstalled = true
  process.on('exit', onExit)
  for (const s of SIGNALS) process.on(s, onSignal)
}

// all of them, the exit listener too: a long run writing many files must not pile up listeners
function uninstallHandlersIfIdle(): void {
  if (!handlersInstalled || liveTemps.size > 0) return
  handlersInstalled = false
  process.off('exit', onExit)
  for (const s of SIGNALS) process.off(s, onSignal)
}

function addTemp(tmp: string, secret: boolean): void {
  installHandlers()
  liveTemps.set(tmp, { secret })
}

function dropTemp(tmp: string): void {
  const info = liveTemps.get(tmp)
  liveTemps.delete(tmp)
  if (info?.secret) forgetTemp(tmp)
  uninstallHandlersIfIdle()
}

/** The recognisable temporary name beside `final`. */
export function tempNameFor(final: string): string {
  return join(dirname(final), `.${basename(final)}.lwprov-tmp-${process.pid}-${randomBytes(4).toString('hex')}`)
}

/** Whether a file name is one of lwprov's temporaries. */
export const TEMP_NAME_RE = /^\..+\.lwprov-tmp-(\d+)-[0-9a-f]{8}$/

// ---------------------------------------------------------------------------------------------------------------
// Writing

const OPEN_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW

/** Opens `path` for writing under the rules above. The caller writes to `stream`, then `commit()` or `abort()`. */
export function openOutputFile(path: string, opts: OutputOptions = {}): OutputFile {
  const final = resolve(path)
  const kind = assertOutputTarget(final, opts)
  const mode = opts.mode ?? 0o600
  const secret = opts.secret ?? false
  if (kind === 'special') {
    // a device or pipe the user named (/dev/stdout, a FIFO): written in place, never renamed over
    let fd: number
    try {
      fd = openSync(final, constants.O_WRONLY | constants.O_NOFOLLOW)
    } catch (e) {
      throw writeFailed(final, e)
    }
    const stream = createWriteStream('', { fd, autoClose: true })
    let done = false
    const end = () => (done ? Promise.resolve() : ((done = true), endStream(stream)))
    return { stream, path: final, commit: () => end(), abort: () => end().catch(() => undefined) }
  }
  try {
    mkdirSync(dirname(final), { recursive: true })
  } catch (e) {
    throw writeFailed(final, e)
  }
  const tmp = tempNameFor(final)
  if (secret) recordTemp(tmp)
  // registered before it exists: a signal arriving the moment the file appears must still find and remove it
  addTemp(tmp, secret)
  let fd: number
  try {
    fd = openSync(tmp, OPEN_NEW, mode)
  } catch (e) {
    dropTemp(tmp)
    throw writeFailed(final, e)
  }
  const stream = createWriteStream('', { fd, autoClose: true })
  let state: 'open' | 'committed' | 'aborted' = 'open'
  const remove = () => {
    try {
      unlinkSync(tmp)
    } catch {
      // already gone
    }
    dropTemp(tmp)
  }
  return {
    stream,
    path: final,
    async commit() {
      if (state !== 'open') return
      try {
        await endStream(stream)
        place(tmp, final, opts)
      } catch (e) {
        state = 'aborted'
        remove()
        throw e instanceof LwprovError ? e : writeFailed(final, e)
      }
      state = 'committed'
      dropTemp(tmp)
    },
    async abort() {
      if (state !== 'open') return
      state = 'aborted'
      await endStream(stream).catch(() => undefined)
      remove()
    },
  }
}

function endStream(stream: Writable): Promise<void> {
  return new Promise<void>((res, rej) => {
    if (stream.destroyed) return res()
    stream.once('error', rej)
    stream.end(() => {
      stream.off('error', rej)
      // wait for the fd to close so the rename sees every byte and nothing writes to the file after it
      if ((stream as unknown as { closed?: boolean }).closed) res()
      else stream.once('close', () => res())
    })
  })
}

/** Moves `tmp` to `final`: without force by link (fails atomically if the name appeared meanwhile), else rename. */
function place(tmp: string, final: string, opts: OutputOptions): void {
  const flag = opts.flag ?? '--out'
  const st = lstatOrUndefined(final)
  if (st) {
    if (st.isDirectory()) throw usageError('E_OUTPUT_IS_DIRECTORY', `${final} is a directory.`, `Pass ${flag} a file name.`, { path: final, errno: 'EISDIR' })
    const why = protectedReason(final, st)
    if (why) throw protectedError(final, why, flag)
    if (!opts.force) throw outputExistsError(final, flag)
    renameSync(tmp, final)
    return
  }
  const why = protectedReason(final)
  if (why) throw protectedError(final, why, flag)
  try {
    linkSync(tmp, final)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'EEXIST') throw outputExistsError(final, flag)
    // file systems without hard links (some FUSE / SMB mounts): the existence check above has to do
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'EXDEV' || code === 'EMLINK') {
      renameSync(tmp, final)
      return
    }
    throw e
  }
  unlinkSync(tmp)
}

/**
 * For writers that need a file name rather than a stream (SQLite's backup API): creates the empty temporary
 * (O_EXCL, O_NOFOLLOW) and returns its name; the caller fills it, then `commit()` moves it into place under the same
 * rules as `openOutputFile`.
 */
export function reserveOutputFile(path: string, opts: OutputOptions = {}): { tmp: string; path: string; commit(): void; abort(): void } {
  const final = resolve(path)
  if (assertOutputTarget(final, opts) === 'special') throw usageError('E_OUTPUT_IS_SPECIAL', `${final} is not a regular file.`, `Pass ${opts.flag ?? '--out'} a regular file path.`, { path: final })
  try {
    mkdirSync(dirname(final), { recursive: true })
  } catch (e) {
    throw writeFailed(final, e)
  }
  const tmp = tempNameFor(final)
  const secret = opts.secret ?? false
  if (secret) recordTemp(tmp)
  addTemp(tmp, secret)
  try {
    closeSync(openSync(tmp, OPEN_NEW, opts.mode ?? 0o600))
  } catch (e) {
    dropTemp(tmp)
    throw writeFailed(final, e)
  }
  let done = false
  const remove = () => {
    rmSync(tmp, { force: true })
    dropTemp(tmp)
  }
  return {
    tmp,
    path: final,
    commit() {
      if (done) return
      done = true
      try {
        place(tmp, final, opts)
      } catch (e) {
        remove()
        throw e instanceof LwprovError ? e : writeFailed(final, e)
      }
      dropTemp(tmp)
    },
    abort() {
      if (done) return
      done = true
      remove()
    },
  }
}

/** Writes `data` to `path` in one go under the rules above. */
export async function writeOutputFile(path: string, data: string | Uint8Array, opts: OutputOptions = {}): Promise<string> {
  const f = openOutputFile(path, opts)
  try {
    await new Promise<void>((res, rej) => f.stream.write(data, (e) => (e ? rej(e) : res())))
  } catch (e) {
    await f.abort()
    throw writeFailed(f.path, e)
  }
  await f.commit()
  return f.path
}

/**
 * Synchronous variant for small files written where a callback cannot wait (a simulated device's store): same
 * rules, same temporary naming.
 */
export function writeOutputFileSync(path: string, data: string | Uint8Array, opts: OutputOptions = {}): string {
  const final = resolve(path)
  const kind = assertOutputTarget(final, opts)
  if (kind === 'special') throw usageError('E_OUTPUT_IS_SPECIAL', `${final} is not a regular file.`, 'Choose a regular file path.', { path: final })
  mkdirSync(dirname(final), { recursive: true })
  const tmp = tempNameFor(final)
  const secret = opts.secret ?? false
  if (secret) recordTemp(tmp)
  addTemp(tmp, secret)
  try {
    const fd = openSync(tmp, OPEN_NEW, opts.mode ?? 0o600)
    try {
      const buf = typeof data === 'string' ? Buffer.from(data) : data
      let off = 0
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off)
    } finally {
      closeSync(fd)
    }
    place(tmp, final, opts)
  } catch (e) {
    rmSync(tmp, { force: true })
    dropTemp(tmp)
    throw e instanceof LwprovError ? e : writeFailed(final, e)
  }
  dropTemp(tmp)
  return final
}


// ---------------------------------------------------------------------------------------------------------------
// Directories of outputs

export interface OutputDir {
  readonly path: string
  /** Opens `name` (already a safe file name) inside the directory; a name used twice in one run is an error. */
  file(name: string, opts?: Omit<OutputOptions, 'force'>): OutputFile
  /** Files committed so far. */
  readonly files: string[]
  /** Removes the files this run created (and the directory if this run created it). */
  abort(): Promise<void>
}

/** The up-front check of `createOutputDir` without creating anything. */
export function assertOutputDir(path: string, flag = '--out'): void {
  const abs = resolve(path)
  const st = lstatOrUndefined(abs)
  if (st) {
    if (st.isSymbolicLink()) throw usageError('E_OUTPUT_SYMLINK', `${abs} is a symbolic link; lwprov does not write through links.`, `Pass ${flag} the real directory.`, { path: abs })
    if (!st.isDirectory()) throw usageError('E_OUTPUT_NOT_A_DIRECTORY', `${abs} exists and is not a directory.`, `Pass ${flag} a new or existing directory.`, { path: abs, errno: 'ENOTDIR' })
  }
  const why = protectedReason(abs, st)
  if (why) throw protectedError(abs, why, flag)
}

/**
 * A directory for a multi-file output (a pem export, a CA directory). A missing directory is created (0700 for
 * secrets); an existing one is used only when it is a real directory (never a symlink) that lwprov does not own; its
 * existing files are replaced only with `force`.
 */
export function createOutputDir(path: string, opts: OutputOptions = {}): OutputDir {
  const abs = resolve(path)
  const flag = opts.flag ?? '--out'
  assertOutputDir(abs, flag)
  let created: string | undefined
  if (!lstatOrUndefined(abs)) {
    try {
      created = mkdirSync(abs, { recursive: true, mode: opts.secret ? 0o700 : 0o755 }) ?? undefined
    } catch (e) {
      throw writeFailed(abs, e)
    }
  }
  const files: string[] = []
  const open = new Set<OutputFile>()
  const names = new Map<string, string>()
  return {
    path: abs,
    files,
    file(name, fopts = {}) {
      if (name.includes('/') || name === '.' || name === '..' || name === '') throw usageError('E_OUTPUT_NAME', `Invalid output file name ${JSON.stringify(name)}.`, 'This is a file name inside the output directory.')
      // case-insensitive file systems would merge "A.pem" and "a.pem": refuse rather than lose one
      const key = name.toLowerCase()
      const prior = names.get(key)
      if (prior !== undefined) {
        throw usageError('E_OUTPUT_NAME_COLLISION', `Two outputs map to the same file name in ${abs}: ${JSON.stringify(prior)} and ${JSON.stringify(name)}.`, 'Rename one of the endpoints, or export them separately.', { dir: abs, names: [prior, name] })
      }
      names.set(key, name)
      const f = openOutputFile(join(abs, name), { ...fopts, force: opts.force ?? false, flag })
      open.add(f)
      const commit = f.commit.bind(f)
      return {
        stream: f.stream,
        path: f.path,
        abort: f.abort.bind(f),
        async commit() {
          await commit()
          open.delete(f)
          files.push(f.path)
        },
      }
    },
    async abort() {
      for (const f of open) await f.abort()
      open.clear()
      if (created) rmSync(created, { recursive: true, force: true })
      else for (const f of files.splice(0)) rmSync(f, { force: true })
    },
  }
}

// ---------------------------------------------------------------------------------------------------------------
// File names from endpoint names

/**
 * An endpoint name as a file name, injectively: `[A-Za-z0-9._-]` stay, everything else (and `%` itself, and a
 * leading dot) becomes `%XX` per UTF-8 byte, so `a/b`, `a_b`, `a:b` and `a@b` are four different files. Names that
 * would exceed the file-system limit are an error rather than a truncation that could collide.
 */
export function safeFileName(endpoint: string, ext = ''): string {
  let out = ''
  const bytes = Buffer.from(endpoint, 'utf8')
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!
    const ok = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f || b === 0x2d || (b === 0x2e && i > 0)
    out += ok ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`
  }
  if (out === '') out = '%00'
  const name = out + ext
  if (Buffer.byteLength(name) > 255) {
    throw usageError('E_OUTPUT_NAME_TOO_LONG', `The endpoint ${JSON.stringify(endpoint.slice(0, 40))}… is too long to be a file name.`, 'Export this endpoint in a single-file format (csv, json).', { endpoint })
  }
  return name
}
