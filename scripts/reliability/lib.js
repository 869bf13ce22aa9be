// Shared by the reliability categories: the CLI runner (recording every output for the secrets scan), tree hashes,
// bounded concurrency, a watchdog that turns a hang into a counted failure, and the figure rows.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const BIN = join(ROOT, 'bin', 'run.js')
export const QUICK = process.env.RELIABILITY_QUICK === '1' || process.env.RELIABILITY_QUICK === 'true'

/** Everything the suite's processes printed, for the secrets scan (label → text). */
export const outputs = []
/** Command lines of the processes the suite started, as `ps` shows them to other users. */
export const argvSeen = new Set()

/** Every process the suite started and has not seen exit. */
export const children = new Set()

/** Remembers a child until it exits. */
export function track(child) {
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

/** Cleanups for an interrupted run (e.g. stopping the PostgreSQL cluster). */
export const atExit = new Set()

/** SIGKILLs every child still running and runs the pending cleanups (an interrupted run). */
export function killChildren() {
  for (const c of children) c.kill('SIGKILL')
  for (const f of atExit) {
    try {
      f()
    } catch {
      // best effort
    }
  }
}

/** A deterministic PRNG (mulberry32): a failing run can be repeated with RELIABILITY_SEED. */
export function rng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
export const SEED = Number(process.env.RELIABILITY_SEED ?? Date.now() % 1_000_000)

export function tempDir(prefix) {
  return mkdtempSync(join(process.env.LWPROV_RELIABILITY_DIR ?? tmpdir(), prefix))
}

/**
 * Runs `lwprov ARGS` like a user (no TTY). Resolves {code, signal, stdout, stderr, json, ms}; a run that outlives
 * `timeoutMs` is killed and reported with `hung: true` (a hang, counted by the caller).
 */
export function runCli(args, { env = {}, cwd = ROOT, input = '', timeoutMs = 180_000, label } = {}) {
  return new Promise((res) => {
    const t0 = Date.now()
    const child = track(spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['pipe', 'pipe', 'pipe'] }))
    argvSeen.add(psArgs(child.pid))
    let stdout = ''
    let stderr = ''
    let hung = false
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => {
      hung = true
      child.kill('SIGKILL')
    }, timeoutMs)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      outputs.push({ label: label ?? args.slice(0, 2).join(' '), text: stdout + '\n' + stderr })
      let json
      try {
        json = JSON.parse(stdout)
      } catch {
        json = undefined
      }
      res({ code, signal, stdout, stderr, json, hung, ms: Date.now() - t0 })
    })
    child.stdin.end(input)
  })
}

/** A process's command line as other users see it (/proc/PID/cmdline), or '' once it is gone. */
export function psArgs(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ')
  } catch {
    return ''
  }
}

/** Samples the command lines of every process on the machine that runs lwprov, until stopped. */
export function watchProcessArgs(intervalMs = 250) {
  const tick = () => {
    let pids = []
    try {
      pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p))
    } catch {
      return
    }
    for (const p of pids) {
      const a = psArgs(p)
      if (a.includes('run.js') || a.includes('lwprov')) argvSeen.add(a)
    }
  }
  const t = setInterval(tick, intervalMs)
  t.unref()
  return () => clearInterval(t)
}

/** sha256 of every regular file under `dir` (path → hash), symlinks by target; SQLite side files left out. */
export function treeHash(dir, { skip = /-(wal|shm|journal)$/ } = {}) {
  const out = {}
  const walk = (d) => {
    if (!existsSync(d)) return
    for (const f of readdirSync(d)) {
      const p = join(d, f)
      const st = lstatSync(p)
      if (st.isDirectory()) walk(p)
      else if (st.isFile() && !skip.test(f)) out[p] = createHash('sha256').update(readFileSync(p)).digest('hex') + `:${(st.mode & 0o777).toString(8)}`
      else if (!st.isFile()) out[p] = `special:${st.mode}`
    }
  }
  walk(dir)
  return out
}

/** The differences between two tree hashes, as short strings. */
export function treeDiff(a, b) {
  const d = []
  for (const k of Object.keys(a)) if (!(k in b)) d.push(`removed ${k}`)
  else if (a[k] !== b[k]) d.push(`changed ${k}`)
  for (const k of Object.keys(b)) if (!(k in a)) d.push(`created ${k}`)
  return d
}

/** Runs `fn` over `items` with at most `n` in flight. */
export async function pool(items, n, fn) {
  const out = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i], i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker))
  return out
}

/** Resolves `p`, or {hung: true} after `ms` (the promise is abandoned: a hang is the finding). */
export function watchdog(p, ms) {
  let t
  return Promise.race([p.finally(() => clearTimeout(t)), new Promise((r) => (t = setTimeout(() => r({ hung: true }), ms)))])
}

/**
 * One figure: what was tried (`tried`, a phrase), how many (`n`), and what went wrong (failures: short strings; the
 * first few are printed).
 */
export class Figure {
  constructor(category, tried) {
    this.category = category
    this.tried = tried
    this.n = 0
    this.failures = []
    this.notes = []
  }

  ok() {
    this.n++
  }

  fail(what) {
    this.n++
    this.failures.push(what)
  }

  /** A failure that is not one more attempt (e.g. a duplicate found after all attempts). */
  finding(what) {
    this.failures.push(what)
  }
}

/** Strips terminal controls from text we print (a failure may quote device or file text). */
export function plain(s) {
  // eslint-disable-next-line no-control-regex
  return String(s).replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
}
