/**
 * Manifest policies: rules stored in the manifest itself (so every station sharing it obeys them) and enforced on
 * every path that issues credentials — `credentials generate`, `inject`, `station`, `devcert` and `manifest import`.
 *
 * - requireWorkOrder: no just-in-time names; endpoints must be reserved by a work order (`batch create`) first.
 * - minPskBytes: PSKs shorter than this are refused.
 * - allowedServers: credentials may only point at these server URIs (exact match).
 * - endpointPattern: every endpoint name must match this regular expression (whole name).
 * - maxCertDays: device certificates may not be valid longer than this.
 */
import { randomBytes } from 'node:crypto'
import { usageError } from '../errors.js'
import { checkDays } from '../validate/bounds.js'
import { shown } from '../validate/escape.js'
import type { ManifestPolicy, ManifestStore } from './types.js'

export interface PolicyUpdate {
  requireWorkOrder?: boolean
  minPskBytes?: number
  allowedServers?: string[]
  endpointPattern?: string
  maxCertDays?: number
  /** Start from no policy instead of the stored one. */
  clear?: boolean
}

const policyError = (message: string, hint: string) => usageError('E_POLICY_INVALID', message, hint)

/** Validates an update and returns the policy it produces from `current`. */
export function applyPolicyUpdate(current: ManifestPolicy, u: PolicyUpdate): ManifestPolicy {
  const next: ManifestPolicy = u.clear ? {} : { ...current }
  if (u.requireWorkOrder !== undefined) {
    if (u.requireWorkOrder) next.requireWorkOrder = true
    else delete next.requireWorkOrder
  }
  if (u.minPskBytes !== undefined) {
    if (!Number.isInteger(u.minPskBytes) || u.minPskBytes < 16 || u.minPskBytes > 64) {
      throw policyError(`--min-psk-bytes ${u.minPskBytes} is outside 16..64.`, 'Pass --min-psk-bytes 16 or 32.')
    }
    next.minPskBytes = u.minPskBytes
  }
  if (u.allowedServers !== undefined) {
    for (const s of u.allowedServers) {
      if (!/^coaps?(\+tcp)?:\/\/[^\s/]+/.test(s) || s.length > 500) {
        throw policyError(`--allowed-server "${shown(s)}" is not a coap:// or coaps:// URI.`, 'Pass --allowed-server coaps://lwm2m.example.com:5684 (repeat for several).')
      }
    }
    if (u.allowedServers.length > 0) next.allowedServers = [...new Set(u.allowedServers)]
    else delete next.allowedServers
  }
  if (u.endpointPattern !== undefined) {
    if (u.endpointPattern === '') delete next.endpointPattern
    else {
      compilePattern(u.endpointPattern)
      next.endpointPattern = u.endpointPattern
    }
  }
  if (u.maxCertDays !== undefined) next.maxCertDays = checkDays(u.maxCertDays, '--max-cert-days')
  return next
}

function compilePattern(p: string): RegExp {
  if (p.length > 500) throw policyError('--endpoint-pattern is longer than 500 characters.', 'Use a shorter regular expression.')
  try {
    return new RegExp(`^(?:${p})$`, 'u')
  } catch (e) {
    throw policyError(`--endpoint-pattern "${shown(p)}" is not a regular expression (${(e as Error).message}).`, "Pass e.g. --endpoint-pattern 'urn:dev:ops:32473-[A-Z0-9-]+'.")
  }
}

/** Stores the update and returns the resulting policy. */
export async function updatePolicy(store: Pick<ManifestStore, 'getPolicy' | 'setPolicy'>, u: PolicyUpdate): Promise<ManifestPolicy> {
  const next = applyPolicyUpdate(await store.getPolicy(), u)
  await store.setPolicy(next)
  return next
}

/** What an issuing path is about to do, for {@link enforcePolicy}. */
export interface IssueRequest {
  /** Which command, for messages. */
  via: 'credentials generate' | 'inject' | 'station' | 'devcert' | 'manifest import' | 'batch create'
  /** Names to be issued; `jit` when they are new names rather than rows a work order reserved. */
  endpoints?: string[]
  jit?: boolean
  security?: string
  pskBytes?: number
  serverUri?: string
  /** Certificate validity, days (certificate credentials). */
  days?: number
}

const violation = (message: string, hint: string, details: Record<string, unknown>) => usageError('E_POLICY_VIOLATION', message, hint, details)

/** Throws when `r` breaks a policy; checks only what `r` says. */
export function enforcePolicy(policy: ManifestPolicy, r: IssueRequest): void {
  if (policy.minPskBytes !== undefined && r.security === 'psk' && r.pskBytes !== undefined && r.pskBytes < policy.minPskBytes) {
    throw violation(`PSKs of ${r.pskBytes} bytes are below this manifest's minimum of ${policy.minPskBytes}.`, `Pass --psk-bytes ${policy.minPskBytes} or more.`, { policy: 'minPskBytes' })
  }
  if (policy.allowedServers && r.serverUri !== undefined && r.serverUri !== '' && !policy.allowedServers.includes(r.serverUri)) {
    throw violation(
      `Server ${shown(r.serverUri)} is not allowed on this manifest.`,
      `Use one of: ${policy.allowedServers.join(', ')} (lwprov manifest policy show).`,
      { policy: 'allowedServers' },
    )
  }
  if (policy.endpointPattern && r.endpoints) {
    const re = compilePattern(policy.endpointPattern)
    const bad = r.endpoints.find((e) => !re.test(e))
    if (bad !== undefined) {
      throw violation(`Endpoint ${shown(bad)} does not match this manifest's endpoint pattern ${policy.endpointPattern}.`, 'Use names that match the pattern (lwprov manifest policy show).', { policy: 'endpointPattern', endpoint: bad })
    }
  }
  if (policy.maxCertDays !== undefined && r.security === 'cert' && r.days !== undefined && r.days > policy.maxCertDays) {
    throw violation(`A certificate validity of ${r.days} days exceeds this manifest's maximum of ${policy.maxCertDays}.`, `Pass --days ${policy.maxCertDays} or less.`, { policy: 'maxCertDays' })
  }
  // After the profile rules, so a request that breaks both is told about the flag it can fix in place.
  if (policy.requireWorkOrder && r.jit) {
    throw usageError(
      'E_WORK_ORDER_REQUIRED',
      `This manifest requires work orders: ${r.via} may not issue just-in-time names${r.endpoints?.[0] ? ` (${shown(r.endpoints[0])})` : ''}.`,
      'Reserve the names first with `lwprov batch create`, then inject with --batch NAME (or --endpoint NAME of a reserved row). See `lwprov manifest policy show`.',
      { policy: 'requireWorkOrder' },
    )
  }
}

/**
 * The endpoint pattern checked against a `{seq}` template before any number is allocated (allocating advances the
 * manifest's counter, which is a write): the names for the first and last number the request would get if it starts
 * at `start` (default 1) — a template the pattern cannot match is refused with the manifest untouched. The names
 * actually allocated are checked again afterwards.
 */
export function precheckTemplatePattern(
  policy: ManifestPolicy,
  via: IssueRequest['via'],
  t: { hasSeq: boolean; deviceFields: readonly string[]; render(v: { seq?: number; now: Date; random: (n: number) => Buffer }): string },
  o: { count: number; start?: number | undefined; now: Date },
): void {
  if (!policy.endpointPattern || !t.hasSeq || t.deviceFields.length > 0) return
  const first = o.start ?? 1
  const random = (n: number) => randomBytes(n)
  enforcePolicy(policy, { via, endpoints: [...new Set([first, first + o.count - 1].map((seq) => t.render({ seq, now: o.now, random })))] })
}

/** The profile part of an issue request. */
export function profileRequest(p: { security: string; pskBytes: number; serverUri: string; days: number }): Pick<IssueRequest, 'security' | 'pskBytes' | 'serverUri' | 'days'> {
  return { security: p.security, pskBytes: p.pskBytes, serverUri: p.serverUri, days: p.days }
}

/**
 * The policy checks an inject/station request allows before any device or port is touched: the profile, and with
 * `requireWorkOrder` whether the endpoint can come from a work order at all (a `--batch`, or `--endpoint` naming a
 * row a work order reserved or pre-generated). Names a template would fill in are checked again once known.
 */
export async function precheckInjectPolicy(
  store: Pick<ManifestStore, 'getPolicy' | 'get'>,
  r: { via: 'inject' | 'station'; endpoint?: string | undefined; batch?: string | undefined; profile: { security: string; pskBytes: number; serverUri: string; days: number } },
): Promise<ManifestPolicy> {
  const policy = await store.getPolicy()
  enforcePolicy(policy, { via: r.via, ...profileRequest(r.profile) })
  if (policy.requireWorkOrder && r.batch === undefined && r.endpoint !== undefined) {
    const row = /[{}]/.test(r.endpoint) ? undefined : await store.get(r.endpoint)
    if (!row) enforcePolicy(policy, { via: r.via, jit: true, endpoints: [r.endpoint] })
  }
  return policy
}

/** Human listing of a policy. */
export function formatPolicy(p: ManifestPolicy): string {
  const lines = [
    `require work order  ${p.requireWorkOrder ? 'yes' : 'no'}`,
    `min PSK bytes       ${p.minPskBytes ?? '-'}`,
    `allowed servers     ${p.allowedServers?.map(shown).join(', ') ?? 'any'}`,
    `endpoint pattern    ${p.endpointPattern === undefined ? 'any' : shown(p.endpointPattern)}`,
    `max cert days       ${p.maxCertDays ?? '-'}`,
  ]
  return lines.join('\n')
}
