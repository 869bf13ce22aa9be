/**
 * Writing rendered devcert files, and the git safety check. The files hold a private key or PSK by design (it is a
 * developer credential), so they are written mode 0600 and the user is warned when git would pick them up.
 */
import { execFileSync } from 'node:child_process'
import { closeSync, mkdirSync, openSync, rmSync, statSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'

import { LwprovError, usageError } from '../errors.js'
import { assertOutputTarget, openOutputFile, type OutputFile } from '../fs/safe-write.js'
import type { RenderedFile } from './templates.js'

/**
 * --out names regular files: the template's other files go beside it, so --out /dev/null would put a secret header
 * into /dev (and the credential would be recorded but lost). Checked before anything is created.
 */
export function checkOutPath(outPath: string): void {
  let special = false
  try {
    const st = statSync(resolve(outPath))
    special = !st.isFile() && !st.isDirectory()
  } catch {
    // missing: it will be created
  }
  if (special) throw usageError('E_OUTPUT_IS_SPECIAL', `${resolve(outPath)} is not a regular file.`, 'Pass --out a regular file path, e.g. ./src/lwm2m_credentials.c. Nothing was issued.', { path: resolve(outPath) })
}

/**
 * Makes sure the files can be written beside `outPath` before anything is recorded: creates the directory, creates
 * and removes a probe file in it, and refuses targets that are directories. Without this an unwritable --out would
 * consume the endpoint (and a developer-CA slot) and the rerun would fail as a duplicate.
 */
export function prepareOutputDir(outPath: string, names: string[], force = false): void {
  const dir = dirname(resolve(outPath))
  const fail = (what: string, e: unknown): never => {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message
    throw usageError('E_DEVCERT_OUT_UNWRITABLE', `Cannot write ${what}: ${code}.`, 'Check the --out path and its permissions. Nothing was issued.', { path: what, code })
  }
  checkOutPath(outPath)
  try {
    mkdirSync(dir, { recursive: true })
  } catch (e) {
    fail(dir, e)
  }
  const probe = join(dir, `.lwprov-probe.${process.pid}.tmp`)
  try {
    closeSync(openSync(probe, 'wx', 0o600))
  } catch (e) {
    fail(dir, e)
  } finally {
    rmSync(probe, { force: true })
  }
  for (const n of names) {
    const target = join(dir, n)
    let isDir = false
    try {
      isDir = statSync(target).isDirectory()
    } catch {
      // Missing is fine: it will be created.
    }
    if (isDir) fail(target, Object.assign(new Error('EISDIR'), { code: 'EISDIR' }))
    // an existing file is replaced only with --force, the manifest / a CA file / a symlink's target never
    assertOutputTarget(target, { force })
  }
}

/**
 * Writes each file beside `outPath` through the safe-output helper: all temporaries are written first and moved into
 * place only when every one is complete, so a failure never leaves a half-written credential behind, and nothing is
 * replaced without `force`. Returns the absolute paths written.
 */
export async function writeOutputFiles(outPath: string, files: RenderedFile[], force = false): Promise<string[]> {
  const dir = dirname(resolve(outPath))
  const outs: OutputFile[] = []
  try {
    for (const f of files) {
      const o = openOutputFile(join(dir, f.name), { force, secret: true })
      outs.push(o)
      await new Promise<void>((res, rej) => o.stream.write(f.content, (e) => (e ? rej(e) : res())))
    }
    for (const o of outs) await o.commit()
  } catch (e) {
    for (const o of outs) await o.abort()
    if (e instanceof LwprovError) throw e
    throw usageError('E_DEVCERT_OUT_UNWRITABLE', `Cannot write into ${dir}.`, 'Check the --out path and its permissions.', { cause: (e as Error).message })
  }
  return outs.map((o) => o.path)
}

/**
 * The paths that sit inside a git work tree without being ignored (so `git add .` would commit a private key).
 * Paths outside any work tree, and machines without git, yield nothing.
 */
export function gitUnignored(paths: string[]): string[] {
  const out: string[] = []
  const inTree = new Map<string, boolean>()
  for (const p of paths) {
    const dir = dirname(p)
    if (!inTree.has(dir)) {
      try {
        inTree.set(dir, execFileSync('git', ['-C', dir, 'rev-parse', '--is-inside-work-tree'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() === 'true')
      } catch {
        inTree.set(dir, false)
      }
    }
    if (!inTree.get(dir)) continue
    try {
      // exit 0: ignored; exit 1: not ignored (tracked files count as not ignored, which is what we want)
      execFileSync('git', ['-C', dir, 'check-ignore', '-q', '--', basename(p)], { stdio: 'ignore' })
    } catch (e) {
      if ((e as { status?: number }).status === 1) out.push(p)
    }
  }
  return out
}
