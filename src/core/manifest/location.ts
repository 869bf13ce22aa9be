/**
 * Which manifest a command uses, found the same way from any directory (like git finds its repository):
 *
 * 1. `--manifest` (or `LWPROV_MANIFEST`, or a station profile's `manifest:`);
 * 2. `--manifest-file FILE` (or `LWPROV_MANIFEST_FILE`, or `manifest-file:` in a profile / lwprov.yaml): the location
 *    read from a 0600 file, so a PostgreSQL URL with a password never appears in argv;
 * 3. the nearest `lwprov.yaml` walking up from the current directory, key `manifest:` (or `manifest-file:`), relative
 *    to that file's directory;
 * 4. the per-user default `$XDG_DATA_HOME/lwprov/lwprov.db` (else `~/.local/share/lwprov/lwprov.db`).
 *
 * The current directory alone never decides: the same command run in two directories uses one ledger.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, isAbsolute, join, resolve } from 'node:path'

import { createRequire } from 'node:module'

import { usageError } from '../errors.js'

export type ManifestSource = 'flag' | 'env' | 'manifest-file' | 'project' | 'default'

export interface ResolvedManifest {
  location: string
  source: ManifestSource
  /** The lwprov.yaml or --manifest-file it came from. */
  from?: string
  /** Things the user should hear about (world-readable manifest file, password in argv). Never secrets. */
  warnings: string[]
}

export const PROJECT_FILE = 'lwprov.yaml'

/** `$XDG_DATA_HOME/lwprov/lwprov.db`, else `~/.local/share/lwprov/lwprov.db`. */
export function defaultManifestPath(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  const base = env.XDG_DATA_HOME && env.XDG_DATA_HOME.startsWith('/') ? env.XDG_DATA_HOME : join(home, '.local', 'share')
  return join(base, 'lwprov', 'lwprov.db')
}

/** The nearest lwprov.yaml at or above `cwd`, or undefined. */
export function findProjectFile(cwd: string = process.cwd()): string | undefined {
  for (let d = resolve(cwd); ; d = dirname(d)) {
    const f = join(d, PROJECT_FILE)
    try {
      if (statSync(f).isFile()) return f
    } catch {
      // keep walking
    }
    if (dirname(d) === d) return undefined
  }
}

/** Reads a manifest location from a file (first non-empty line); warns when others may read it. */
export function readManifestFile(file: string, warnings: string[]): string {
  let text: string
  try {
    const st = statSync(file)
    if ((st.mode & 0o077) !== 0) warnings.push(`${file} (the manifest location, possibly with a password) is readable by others; chmod 600 it.`)
    text = readFileSync(file, 'utf8')
  } catch (e) {
    throw usageError('E_MANIFEST_FILE_UNREADABLE', `Cannot read the manifest file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}.`, 'Check --manifest-file / LWPROV_MANIFEST_FILE.')
  }
  const line = text.split(/\r?\n/).map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#'))
  if (!line) throw usageError('E_MANIFEST_FILE_EMPTY', `The manifest file ${file} holds no location.`, 'Write a SQLite path or a postgres:// URL on its first line.')
  return /^postgres(ql)?:\/\//i.test(line) || isAbsolute(line) ? line : resolve(dirname(file), line)
}

function readProject(file: string): { manifest?: string; manifestFile?: string } {
  let doc: unknown
  try {
    // yaml is loaded only when a project file exists: every command resolves the manifest, few have a project file
    const { parse } = createRequire(import.meta.url)('yaml') as typeof import('yaml')
    doc = parse(readFileSync(file, 'utf8'))
  } catch (e) {
    throw usageError('E_PROJECT_FILE_INVALID', `${file} is not valid YAML: ${(e as Error).message.split('\n')[0]}`, 'Write e.g. `manifest: ./factory.db` in it.')
  }
  if (doc === null || doc === undefined) return {}
  if (typeof doc !== 'object' || Array.isArray(doc)) throw usageError('E_PROJECT_FILE_INVALID', `${file} must be a mapping, e.g. \`manifest: ./factory.db\`.`, 'Fix the file.')
  const o = doc as Record<string, unknown>
  const str = (k: string) => (typeof o[k] === 'string' && o[k] !== '' ? (o[k] as string) : undefined)
  const m = str('manifest')
  const mf = str('manifest-file') ?? str('manifestFile')
  const rel = (p: string) => (/^postgres(ql)?:\/\//i.test(p) || isAbsolute(p) ? p : resolve(dirname(file), p))
  return { ...(m ? { manifest: rel(m) } : {}), ...(mf ? { manifestFile: rel(mf) } : {}) }
}

function hasUrlPassword(location: string): boolean {
  if (!/^postgres(ql)?:\/\//i.test(location)) return false
  try {
    return new URL(location).password !== ''
  } catch {
    return /:\/\/[^/@]*:[^/@]*@/.test(location)
  }
}

export interface ResolveInput {
  /** The --manifest value after oclif merged LWPROV_MANIFEST / profile into it. */
  manifest?: string | undefined
  'manifest-file'?: string | undefined
  env?: NodeJS.ProcessEnv
  cwd?: string
  home?: string
}

export function resolveManifestLocation(i: ResolveInput): ResolvedManifest {
  const env = i.env ?? process.env
  const warnings: string[] = []
  if (i.manifest) {
    const source: ManifestSource = env.LWPROV_MANIFEST === i.manifest ? 'env' : 'flag'
    if (source === 'flag' && hasUrlPassword(i.manifest)) {
      warnings.push('the PostgreSQL password in --manifest is visible to every user of this machine (ps); use PGPASSWORD, ~/.pgpass, PGSERVICE or --manifest-file FILE (0600) instead.')
    }
    return { location: i.manifest, source, warnings }
  }
  if (i['manifest-file']) return { location: readManifestFile(i['manifest-file'], warnings), source: 'manifest-file', from: i['manifest-file'], warnings }
  const project = findProjectFile(i.cwd)
  if (project) {
    const p = readProject(project)
    if (p.manifest) return { location: p.manifest, source: 'project', from: project, warnings }
    if (p.manifestFile) return { location: readManifestFile(p.manifestFile, warnings), source: 'project', from: project, warnings }
  }
  return { location: defaultManifestPath(env, i.home ?? homedir()), source: 'default', warnings }
}

/** True when `location` names a SQLite file that does not exist yet. */
export function sqliteMissing(location: string): boolean {
  return !/^postgres(ql)?:\/\//i.test(location) && !existsSync(location)
}
