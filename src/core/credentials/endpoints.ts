/**
 * Turns what the user asked for (`--endpoint TEMPLATE --count N [--start N]` or `--endpoints FILE`) into concrete,
 * validated endpoint names. `{seq}` numbers come from the manifest's atomic counter, so two runs of the same template
 * (even concurrent, on different stations sharing a PostgreSQL manifest) get disjoint ranges.
 */
import { randomBytes } from 'node:crypto'

import { usageError } from '../errors.js'
import { parseEndpointTemplate, validateEndpointName } from '../lwm2m/endpoint.js'
import type { ManifestStore } from '../manifest/types.js'
import { checkCount, MAX_COUNT } from '../validate/index.js'

export interface EndpointRequest {
  /** A name or template (`--endpoint`). */
  template?: string
  count?: number
  start?: number
  /** Explicit names (`--endpoints FILE`, already split into lines). */
  names?: string[]
}

export interface ResolvedEndpoints {
  names: string[]
  /** The template the names came from, when `{seq}` was used (recorded so the next batch continues after it). */
  template?: string
  /** `{seq}` value of each name, parallel to `names`. */
  seqs?: number[]
}

/** Parses the content of an `--endpoints` file: one name a line, blank lines and `#` comments ignored. */
export function parseEndpointList(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('#'))
}

/**
 * The checks of a request that need nothing but the request: conflicting sources, bounded counts, a well-formed
 * template. Commands call it before they read a file, load the CA or open the manifest.
 */
export function validateEndpointRequest(req: { template?: string | undefined; count?: number | undefined; start?: number | undefined; hasNames?: boolean; names?: string[] }): void {
  const hasNames = req.hasNames ?? req.names !== undefined
  if (hasNames && req.template !== undefined) {
    throw usageError('E_ENDPOINT_SOURCE', 'Give either --endpoint or --endpoints, not both.', 'Use --endpoint TEMPLATE --count N, or --endpoints FILE.')
  }
  if (hasNames && (req.count !== undefined || req.start !== undefined)) {
    throw usageError(
      'E_ENDPOINT_SOURCE',
      `--endpoints FILE names every endpoint, so --${req.count !== undefined ? 'count' : 'start'} conflicts with it.`,
      'Drop --count/--start (the file decides how many), or use --endpoint TEMPLATE --count N instead of the file.',
    )
  }
  if (req.count !== undefined) checkCount(req.count)
  if (req.names !== undefined && req.names.length > MAX_COUNT) checkCount(req.names.length, '--endpoints file with')
  if (req.template !== undefined) parseEndpointTemplate(req.template)
}

export async function resolveEndpoints(
  req: EndpointRequest,
  store: Pick<ManifestStore, 'allocateSeq'>,
  now: Date,
  random: (n: number) => Buffer = randomBytes,
): Promise<ResolvedEndpoints> {
  validateEndpointRequest(req)
  if (req.names !== undefined) {
    if (req.names.length === 0) {
      throw usageError('E_ENDPOINTS_EMPTY', 'The --endpoints file holds no names.', 'Put one endpoint name on each line.')
    }
    for (const n of req.names) validateEndpointName(n)
    assertDistinct(req.names, '--endpoints file')
    return { names: req.names }
  }
  if (req.template === undefined) {
    throw usageError(
      'E_ENDPOINT_MISSING',
      'No endpoint names given.',
      "Pass --endpoint 'urn:dev:os:12345-ABC{seq:06}' --count N, or --endpoints FILE with one name a line.",
    )
  }
  const t = parseEndpointTemplate(req.template)
  if (t.deviceFields.length > 0) {
    throw usageError(
      'E_TEMPLATE_NEEDS_DEVICE',
      `The template '${req.template}' uses {${t.deviceFields.join('}, {')}}, which only a device can fill in.`,
      'Use such templates with `lwprov inject` or `lwprov station`, where the device reports its identity.',
    )
  }
  const count = req.count ?? 1
  if (!t.isTemplate && count > 1) {
    throw usageError(
      'E_TEMPLATE_NOT_UNIQUE',
      `'${req.template}' is a single name, so --count ${count} would issue it ${count} times.`,
      'Add {seq:06}, {uuid} or {hex:8} to the endpoint template.',
    )
  }
  if (req.start !== undefined && !t.hasSeq) {
    throw usageError('E_START_WITHOUT_SEQ', '--start only applies to templates with {seq}.', 'Add {seq} to --endpoint or drop --start.')
  }
  if (t.hasSeq) {
    const first = await store.allocateSeq(t.source, count, req.start)
    const names: string[] = []
    const seqs: number[] = []
    for (let i = 0; i < count; i++) {
      seqs.push(first + i)
      names.push(t.render({ seq: first + i, now, random }))
    }
    assertDistinct(names, 'template')
    return { names, template: t.source, seqs }
  }
  const names = Array.from({ length: count }, () => t.render({ now, random }))
  assertDistinct(names, 'template')
  return { names }
}

function assertDistinct(names: string[], where: string): void {
  const seen = new Set<string>()
  const dups = new Set<string>()
  for (const n of names) (seen.has(n) ? dups : seen).add(n)
  if (dups.size > 0) {
    const list = [...dups].slice(0, 10)
    throw usageError(
      'E_DUPLICATE_IN_INPUT',
      `The ${where} yields the same name more than once: ${list.join(', ')}${dups.size > list.length ? ', …' : ''}.`,
      'Each endpoint name must be unique; fix the input and run again. Nothing was written.',
      { duplicates: [...dups] },
    )
  }
}
