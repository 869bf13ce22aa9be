/**
 * Station profiles: the daily settings of a production line in one YAML file, so the run is
 * `lwprov station --profile line3.yaml`. Keys are the command's flag names (kebab-case or camelCase); nested groups
 * (`device:`, `credentials:`, `transport:` …) are flattened. Precedence is flag > environment > profile > default,
 * applied by {@link mergeSettings}.
 */
import { readFileSync } from 'node:fs'

import { parse } from 'yaml'

import { usageError } from '../errors.js'

/** Every key a station profile may hold (`lwprov station`; `batch create` reads a subset). */
export const PROFILE_KEYS = [
  'protocol', 'ports', 'vid', 'pid', 'baud', 'batch', 'endpoint', 'count', 'continuous', 'bell', 'station',
  'mode', 'security', 'server', 'server-ca', 'certificate-usage', 'days', 'account-id', 'short-server-id', 'lifetime', 'binding', 'psk-bytes', 'psk-identity',
  'ca', 'passphrase-file', 'manifest', 'key-file',
  'manufacturer', 'model-number', 'device-type', 'hardware-version', 'memory-total-kb', 'serial-number', 'timezone', 'utc-offset',
  'start', 'sec-tag', 'smp-path', 'smp-mtu',
] as const

/** A flat map of flag name → value as read from a profile. */
export type ProfileSettings = Record<string, string | number | boolean | string[]>

const kebab = (k: string) => k.replace(/([a-z0-9])([A-Z])/g, '$1-$2').replace(/_/g, '-').toLowerCase()

/** Aliases that read naturally in a profile but differ from the flag name. */
const ALIASES: Record<string, string> = { 'endpoint-template': 'endpoint', 'work-order': 'batch', 'server-uri': 'server', 'ca-dir': 'ca' }

/**
 * Parses profile text. `known` lists the accepted flag names; anything else is a usage error naming the key, so a
 * typo in line3.yaml does not silently fall back to a default.
 */
export function parseStationProfile(text: string, source: string, known: readonly string[]): ProfileSettings {
  let doc: unknown
  try {
    doc = parse(text)
  } catch (e) {
    throw usageError('E_PROFILE_INVALID', `Station profile ${source} is not valid YAML: ${(e as Error).message.split('\n')[0]}`, 'Fix the YAML syntax (key: value, one a line).')
  }
  if (doc === null || doc === undefined) return {}
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw usageError('E_PROFILE_INVALID', `Station profile ${source} must be a mapping of settings.`, 'Write e.g. `protocol: lwprov` and `batch: WO-1234`, one a line.')
  }
  const out: ProfileSettings = {}
  const visit = (obj: Record<string, unknown>, path: string) => {
    for (const [rawKey, value] of Object.entries(obj)) {
      let key = kebab(rawKey)
      key = ALIASES[key] ?? key
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        visit(value as Record<string, unknown>, `${path}${rawKey}.`)
        continue
      }
      if (!known.includes(key)) {
        throw usageError('E_PROFILE_INVALID', `Station profile ${source}: unknown setting '${path}${rawKey}'.`, `Known settings: ${known.join(', ')}.`)
      }
      if (value === null || value === undefined) continue
      if (Array.isArray(value)) out[key] = value.map(String)
      else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[key] = value
      else out[key] = String(value)
    }
  }
  visit(doc as Record<string, unknown>, '')
  return out
}

/**
 * Applies flag > environment > profile > default. `explicit(name)` says whether the user set the flag on the
 * command line or through its `LWPROV_*` twin; oclif already merged those two (flag first) into `flags`.
 */
export function mergeSettings<T extends Record<string, unknown>>(flags: T, profile: ProfileSettings, explicit: (name: string) => boolean): T {
  const out: Record<string, unknown> = { ...flags }
  for (const [k, v] of Object.entries(profile)) {
    if (explicit(k)) continue
    const current = flags[k]
    // Lists in a profile (ports: [a, b]) become the comma form the flag takes.
    out[k] = Array.isArray(v) && typeof current !== 'object' ? v.join(',') : v
  }
  return out as T
}

/** Whether flag `name` was given on the command line (`--name v`, `--name=v`) or through its environment twin. */
export function isExplicit(argv: readonly string[], env: NodeJS.ProcessEnv, name: string, envName?: string): boolean {
  if (argv.some((a) => a === `--${name}` || a.startsWith(`--${name}=`) || a === `--no-${name}`)) return true
  return envName !== undefined && env[envName] !== undefined && env[envName] !== ''
}

/** Reads and parses a station profile file (`--profile`), accepting every station key. */
export function loadStationProfile(path: string): ProfileSettings {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    throw usageError('E_PROFILE_UNREADABLE', `Cannot read station profile ${path}.`, 'Check the --profile path.')
  }
  return parseStationProfile(text, path, PROFILE_KEYS)
}
