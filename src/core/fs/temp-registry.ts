/**
 * A record of temporary files that hold plaintext secrets, so a run killed with SIGKILL (or a power loss) does not
 * leave them behind for good: each one is noted in lwprov's 0700 state directory before it is created, forgotten
 * when it is renamed or removed, and every later lwprov run removes the ones whose process is gone.
 */
import { closeSync, constants, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs'
import { homedir } from 'node:os'
import { basename, join } from 'node:path'
import { randomBytes } from 'node:crypto'

/** `$XDG_STATE_HOME/lwprov`, else `~/.local/state/lwprov`: lwprov's own per-user state (0700). */
export function stateDir(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  const base = env.XDG_STATE_HOME && env.XDG_STATE_HOME.startsWith('/') ? env.XDG_STATE_HOME : join(home, '.local', 'state')
  return join(base, 'lwprov')
}

function registryDir(): string {
  return join(stateDir(), 'temps')
}

/** Fields of /proc/PID/stat after the command name (Linux), or undefined. */
function procStat(pid: number | 'self'): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined
  }
}

/** Process start time (clock ticks since boot, field 22), so a reused pid is not mistaken for the writer. */
function startTime(pid: number | 'self'): string | undefined {
  return procStat(pid)?.[19]
}

const myStart = startTime('self')
const entries = new Map<string, string>()

/** Notes `tmp` (an absolute path about to be created) in the registry. Best effort: a read-only home still works. */
export function recordTemp(tmp: string): void {
  try {
    const dir = registryDir()
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const entry = join(dir, `${process.pid}-${randomBytes(6).toString('hex')}.json`)
    const fd = openSync(entry, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
    try {
      writeSync(fd, JSON.stringify({ path: tmp, pid: process.pid, start: myStart }))
    } finally {
      closeSync(fd)
    }
    entries.set(tmp, entry)
  } catch {
    // the temporary still has a recognisable name and is removed on exit and on signals
  }
}

/** Forgets `tmp` (it was renamed into place or removed). */
export function forgetTemp(tmp: string): void {
  const entry = entries.get(tmp)
  if (!entry) return
  entries.delete(tmp)
  rmSync(entry, { force: true })
}

function alive(pid: number, start: string | undefined): boolean {
  try {
    process.kill(pid, 0)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false
  }
  const st = procStat(pid)
  // a killed process whose parent has not reaped it yet is a zombie: it writes nothing any more
  if (st?.[0] === 'Z' || st?.[0] === 'X') return false
  // alive: the same process only if it started when the entry says (pids are reused)
  const now = st?.[19]
  return start === undefined || now === undefined || now === start
}

export interface StaleTemp {
  path: string
  pid: number
}

/**
 * Removes the secret-bearing temporaries left by lwprov runs that are gone (SIGKILL, power loss) and their entries.
 * Returns what was removed (files that no longer existed are not listed). Never throws.
 */
export function removeStaleTemps(): StaleTemp[] {
  const removed: StaleTemp[] = []
  let names: string[]
  const dir = registryDir()
  try {
    names = readdirSync(dir)
  } catch {
    return removed
  }
  for (const n of names) {
    if (!n.endsWith('.json')) continue
    const entry = join(dir, n)
    try {
      const e = JSON.parse(readFileSync(entry, 'utf8')) as { path?: unknown; pid?: unknown; start?: unknown }
      const pid = typeof e.pid === 'number' ? e.pid : Number.NaN
      if (!Number.isInteger(pid) || typeof e.path !== 'string') {
        rmSync(entry, { force: true })
        continue
      }
      if (pid === process.pid || alive(pid, typeof e.start === 'string' ? e.start : undefined)) continue
      // only a regular file with lwprov's temporary name is removed: the registry is never a way to delete others
      if (/^\..+\.lwprov-tmp-\d+-[0-9a-f]{8}$/.test(basename(e.path))) {
        let st
        try {
          st = lstatSync(e.path)
        } catch {
          st = undefined
        }
        if (st?.isFile()) {
          rmSync(e.path, { force: true })
          removed.push({ path: e.path, pid })
        }
      }
      rmSync(entry, { force: true })
    } catch {
      // a half-written entry of a process killed mid-write: drop it once it is old enough to be stale
      try {
        if (Date.now() - statSync(entry).mtimeMs > 60_000) rmSync(entry, { force: true })
      } catch {
        // gone
      }
    }
  }
  return removed
}
