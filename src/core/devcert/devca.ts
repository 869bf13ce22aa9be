/**
 * The developer CA: `--ca DIR`, or a per-user default created on first use. It is an ordinary lwprov CA directory
 * (ca.pem, chain.pem, encrypted ca.key.pem) named "lwprov Developer CA", plus two devcert files:
 *
 * - `devcert-issued.jsonl`: one line per certificate issued, so the per-CA device limit holds across manifests;
 * - `master.key` (0600, created only when needed): the per-user manifest master key used when neither
 *   LWPROV_MASTER_KEY nor --key-file is set. A developer should not need factory secrets to try a device, and
 *   developer rows must still be sealed (never plaintext), so the key lives beside the developer CA — the one
 *   place that is already per-user and private (0700).
 */
import { randomBytes } from 'node:crypto'
import { appendFileSync, closeSync, constants, existsSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'

import { LwprovError, usageError } from '../errors.js'
import { CA_FILES, createCa, DEFAULT_CA_DAYS, loadCa, writeCaDir } from '../pki/index.js'
import type { DeveloperCa } from './devcert.js'

export const DEVELOPER_CA_NAME = 'lwprov Developer CA'
export const ISSUED_FILE = 'devcert-issued.jsonl'
export const DEV_MASTER_KEY_FILE = 'master.key'

/** `$XDG_CONFIG_HOME/lwprov/dev-ca`, else `~/.config/lwprov/dev-ca`. */
export function defaultDeveloperCaDir(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(home, '.config')
  return join(base, 'lwprov', 'dev-ca')
}

/** True when `dir` holds no CA yet (absent, or an empty directory): the first use creates it. */
export function developerCaMissing(dir: string): boolean {
  if (!existsSync(dir)) return true
  if (existsSync(join(dir, CA_FILES.cert))) return false
  return readdirSync(dir).filter((f) => f !== DEV_MASTER_KEY_FILE && f !== ISSUED_FILE && f !== LOCK_FILE && !f.startsWith(`.${DEV_MASTER_KEY_FILE}.`)).length === 0
}

export interface OpenDeveloperCaOptions {
  dir: string
  /** Supplies the passphrase; `creating` asks for confirmation when prompting. */
  passphrase: (creating: boolean) => Promise<string>
  /** Whether `dir` is the per-user default (only changes error hints). */
  isDefault: boolean
  now?: Date
}

const LOCK_FILE = '.create.lock'
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Takes the creation lock of `dir` (an O_EXCL file holding our pid). Returns false when another process holds it;
 * a lock left by a dead process is removed and taken.
 */
function tryLock(dir: string): boolean {
  const lock = join(dir, LOCK_FILE)
  try {
    const fd = openSync(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
    writeSync(fd, String(process.pid))
    closeSync(fd)
    return true
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
  }
  let holder = Number.NaN
  try {
    holder = Number(readFileSync(lock, 'utf8').trim())
  } catch {
    return false // just created or just removed: look again
  }
  if (Number.isInteger(holder) && holder > 0 && !pidAlive(holder)) rmSync(lock, { force: true })
  return false
}

/** Loads the developer CA, creating it first if the directory holds none. */
export async function openDeveloperCa(o: OpenDeveloperCaOptions): Promise<DeveloperCa> {
  // Concurrent first uses: one process creates the CA under an exclusive lock, the others wait for it and then load
  // the same CA (never E_CA_EXISTS, which would tempt a --force that orphans every certificate already issued).
  for (let wait = 10; ; wait = Math.min(wait * 2, 200)) {
    let locked: boolean
    try {
      mkdirSync(o.dir, { recursive: true, mode: 0o700 })
      locked = tryLock(o.dir)
    } catch (e) {
      // a read-only CA directory that already holds a CA needs no lock to be read
      if (!developerCaMissing(o.dir)) break
      throw e
    }
    if (!locked) {
      await sleep(wait)
      continue
    }
    try {
      if (developerCaMissing(o.dir)) return await createDeveloperCa(o)
    } finally {
      rmSync(join(o.dir, LOCK_FILE), { force: true })
    }
    break
  }
  return developerCa(o.dir, await loadCa(o.dir, await o.passphrase(false)), false)
}

async function createDeveloperCa(o: OpenDeveloperCaOptions): Promise<DeveloperCa> {
  let created = false
  {
    let pass: string
    try {
      pass = await o.passphrase(true)
    } catch (e) {
      if (e instanceof LwprovError && e.code === 'E_CA_PASSPHRASE_MISSING') {
        throw usageError(
          'E_CA_PASSPHRASE_MISSING',
          `Creating the developer CA in ${o.dir} needs a passphrase to encrypt its key, and none is available without a terminal.`,
          `Set LWPROV_CA_PASSPHRASE (or pass --passphrase-file FILE) once; the same passphrase unlocks ${o.isDefault ? 'the per-user developer CA' : 'this developer CA'} later.`,
        )
      }
      throw e
    }
    const ca = await createCa({ name: DEVELOPER_CA_NAME, keyType: 'ec-p256', days: DEFAULT_CA_DAYS, pathLen: 0, orgUnit: 'developer', ...(o.now ? { now: o.now } : {}) })
    mkdirSync(o.dir, { recursive: true, mode: 0o700 })
    writeCaDir(o.dir, ca, pass)
    created = true
    return developerCa(o.dir, await loadCa(o.dir, pass), created)
  }
}

function developerCa(dir: string, ca: Awaited<ReturnType<typeof loadCa>>, created: boolean): DeveloperCa {
  const file = join(dir, ISSUED_FILE)
  return {
    ca,
    dir,
    created,
    async issuedCount() {
      if (!existsSync(file)) return 0
      return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').length
    },
    async recordIssued(e) {
      appendFileSync(file, `${JSON.stringify({ endpoint: e.endpoint, serial: e.serialHex, fingerprint: e.fingerprint, issuedAt: e.issuedAt.toISOString() })}\n`, { mode: 0o600 })
    },
  }
}

/**
 * The per-user master key beside the developer CA, created (0600, directory 0700) on first use. Returns the key and
 * whether it was created now.
 */
export function developerMasterKey(dir: string, create: boolean): { key: Buffer; file: string; created: boolean } | undefined {
  const file = join(dir, DEV_MASTER_KEY_FILE)
  if (existsSync(file)) {
    const hex = readFileSync(file, 'utf8').trim()
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
      throw usageError('E_MASTER_KEY_INVALID', `The per-user key file ${file} does not hold 64 hex characters.`, 'Restore it from a backup, or set LWPROV_MASTER_KEY to the key the developer credentials were sealed with.')
    }
    return { key: Buffer.from(hex, 'hex'), file, created: false }
  }
  if (!create) return undefined
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const hex = randomBytes(32).toString('hex')
  // written complete under a temporary name, then linked into place: a concurrent first use either wins or reads
  // the winner's whole key, never an empty file
  const tmp = join(dir, `.${DEV_MASTER_KEY_FILE}.${process.pid}.${randomBytes(4).toString('hex')}`)
  writeFileSync(tmp, `${hex}\n`, { mode: 0o600, flag: 'wx' })
  try {
    linkSync(tmp, file)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    return developerMasterKey(dir, false)
  } finally {
    rmSync(tmp, { force: true })
  }
  return { key: Buffer.from(hex, 'hex'), file, created: true }
}
