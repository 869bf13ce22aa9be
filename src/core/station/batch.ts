/**
 * Work orders: a batch of endpoint names reserved up front (status `reserved`), with an optional activation window
 * and claim codes. Creating one is all-or-nothing: names are allocated from the template's counter, then the batch
 * header and the rows (with their claim-code hashes) are written in one manifest transaction.
 */
import { checkCount, parseDate } from '../validate/bounds.js'
import { csvSafe, shown } from '../validate/escape.js'
import { enforcePolicy, precheckTemplatePattern } from '../manifest/policy.js'
import { randomBytes } from 'node:crypto'

import { conflictError, LwprovError, usageError } from '../errors.js'
import type { LabelOutput } from '../labels/output.js'
import { parseEndpointTemplate } from '../lwm2m/endpoint.js'
import type { BatchRecord, EndpointStatus, ManifestStore, NewManifestRecord } from '../manifest/types.js'
import type { AccountMode, SecurityKind } from '../model.js'

// The activation-window rule lives with the work-order record; re-exported for the station's callers.
export { assertBatchActive } from '../manifest/batch-window.js'
import { generateClaimCode, hashClaimCode } from './claim-code.js'

export interface WorkOrderRequest {
  name: string
  count: number
  /** Endpoint template; must contain {seq}, {uuid} or {hex:N} (device fields are filled at injection, not here). */
  template: string
  /** First {seq} number; default: after the highest ever reserved for the template. */
  start?: number
  /** Free-form profile reference (station profile path, or JSON of the credential settings). */
  profile?: string
  activatesOn?: Date
  expiresOn?: Date
  claimCodes?: boolean
  /** Credential settings known at reservation time; rows carry them so exports show the intent. */
  mode?: AccountMode
  security?: SecurityKind
  serverUri?: string
  now: Date
  random?: (n: number) => Buffer
}

export interface ReservedDevice {
  endpoint: string
  seq?: number
  /** Shown once; only its hash is stored. */
  claimCode?: string
}

export interface WorkOrderResult {
  batch: BatchRecord
  devices: ReservedDevice[]
}

const BATCH_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/

/** Validates a work-order / batch name (it appears in file names, exports and label sheets). */
export function validateBatchName(name: string): void {
  if (!BATCH_NAME.test(name)) {
    throw usageError('E_BATCH_NAME_INVALID', `'${shown(name)}' is not a valid work-order name.`, 'Use 1..64 letters, digits, ".", "_", ":" or "-", e.g. WO-1234.')
  }
}

/** Reserves the names of a work order. Nothing is written if any name already exists or the batch name is taken. */
export async function createWorkOrder(store: ManifestStore, req: WorkOrderRequest): Promise<WorkOrderResult> {
  validateBatchName(req.name)
  checkCount(req.count)
  if (req.activatesOn && req.expiresOn && req.expiresOn.getTime() <= req.activatesOn.getTime()) {
    throw usageError('E_WINDOW_INVALID', 'The work order would expire before it activates.', 'Make --expires-on later than --activates-on.')
  }
  if (req.expiresOn && req.expiresOn.getTime() <= req.now.getTime()) {
    throw usageError(
      'E_WINDOW_PAST',
      `--expires-on ${req.expiresOn.toISOString()} is already past: the work order could never be used.`,
      'Pass an --expires-on date in the future (or none).',
    )
  }
  const t = parseEndpointTemplate(req.template)
  if (t.deviceFields.length > 0) {
    throw usageError(
      'E_TEMPLATE_NEEDS_DEVICE',
      `A work order reserves names before any device is seen, so {${t.deviceFields.join('}, {')}} cannot be filled.`,
      'Use {seq:06}, {uuid} or {hex:8} in --endpoint, or skip the work order and let `lwprov station` name devices just in time.',
    )
  }
  if (!t.isTemplate && req.count > 1) {
    throw usageError('E_TEMPLATE_NOT_UNIQUE', `'${req.template}' is a single name; --count ${req.count} needs a template.`, 'Add {seq:06} to --endpoint.')
  }
  if (await store.getBatch(req.name)) throw batchExists(req.name)
  const policy = await store.getPolicy()
  if (req.serverUri) enforcePolicy(policy, { via: 'batch create', serverUri: req.serverUri })
  precheckTemplatePattern(policy, 'batch create', t, { count: req.count, start: req.start, now: req.now })
  const random = req.random ?? randomBytes
  const first = t.hasSeq ? await store.allocateSeq(t.source, req.count, req.start) : undefined
  const devices: ReservedDevice[] = []
  const rows: NewManifestRecord[] = []
  const seen = new Set<string>()
  for (let i = 0; i < req.count; i++) {
    const seq = first === undefined ? undefined : first + i
    const endpoint = t.render({ ...(seq === undefined ? {} : { seq }), now: req.now, random })
    if (seen.has(endpoint)) {
      throw usageError('E_DUPLICATE_IN_INPUT', `The template yields ${endpoint} twice.`, 'Widen the template (more {seq} digits or {hex:8}).')
    }
    seen.add(endpoint)
    const claimCode = req.claimCodes ? generateClaimCode(random) : undefined
    devices.push({ endpoint, ...(seq === undefined ? {} : { seq }), ...(claimCode ? { claimCode } : {}) })
    rows.push({
      endpoint,
      batch: req.name,
      mode: req.mode ?? 'bootstrap',
      security: req.security ?? 'cert',
      serverUri: req.serverUri ?? '',
      status: 'reserved',
      developer: false,
      template: t.hasSeq ? t.source : null,
      seq: seq ?? null,
      claimHash: claimCode ? hashClaimCode(claimCode, random) : null,
      createdAt: req.now.toISOString(),
    })
  }
  // Work orders are the sanctioned way to name endpoints, but the names and server still obey the manifest's policy.
  enforcePolicy(policy, { via: 'batch create', endpoints: rows.map((r) => r.endpoint), ...(req.serverUri ? { serverUri: req.serverUri } : {}) })
  const header: Omit<BatchRecord, 'createdAt'> = {
    name: req.name,
    template: t.source,
    count: req.count,
    profile: req.profile ?? null,
    activatesOn: req.activatesOn?.toISOString() ?? null,
    expiresOn: req.expiresOn?.toISOString() ?? null,
  }
  try {
    // One transaction, header first: the check above is only a fast path; a concurrent creator of the same name
    // fails here on the header's primary key, and a crash cannot leave rows without their header.
    await store.createBatchWithRows(header, rows)
  } catch (e) {
    if (e instanceof LwprovError && e.code === 'E_BATCH_EXISTS') throw batchExists(req.name)
    throw e
  }
  return { batch: { ...header, createdAt: req.now.toISOString() }, devices }
}

function batchExists(name: string): LwprovError {
  return conflictError('E_BATCH_EXISTS', `Work order ${name} already exists.`, `Pick another --name, or see it with \`lwprov batch status ${name}\`.`)
}


/** Parses `--activates-on` / `--expires-on`: an ISO date (`2026-12-01`, midnight UTC) or date-time. */
export function parseWindowDate(flag: string, value: string): Date {
  return parseDate(value, flag)
}

export type BatchState = 'pending' | 'active' | 'expired' | 'complete'

export interface BatchStatus {
  name: string
  template: string | null
  count: number | null
  profile: string | null
  activatesOn: string | null
  expiresOn: string | null
  createdAt: string
  state: BatchState
  /** Rows per status; every status present, zero when none. */
  counts: Record<EndpointStatus, number>
  total: number
  /** Names not yet verified or revoked: what the line still has to do. */
  remaining: number
}

/** Counts per status and the activation state of one work order; `E_BATCH_NOT_FOUND` when unknown. */
export async function batchStatus(store: ManifestStore, name: string, now: Date): Promise<BatchStatus> {
  const b = await store.getBatch(name)
  if (!b) {
    throw usageError('E_BATCH_NOT_FOUND', `No work order named ${shown(name)}.`, 'List work orders with `lwprov batch list`.')
  }
  return summarize(store, b, now)
}

/**
 * Refuses a --batch naming nothing: neither a work order nor any row's batch (`credentials generate` records a batch
 * by its rows alone). Checked before a port is opened, or before a filter silently matches nothing.
 */
export async function requireBatch(store: Pick<ManifestStore, 'getBatch' | 'count'>, name: string): Promise<void> {
  if ((await store.getBatch(name)) !== undefined || (await store.count({ batch: name })) > 0) return
  throw usageError('E_BATCH_NOT_FOUND', `There is no batch named ${shown(name)}.`, 'List them with `lwprov batch list`, or check --batch.', { batch: name })
}

/** Status of every work order, oldest first. */
export async function listBatchStatuses(store: ManifestStore, now: Date): Promise<BatchStatus[]> {
  const out: BatchStatus[] = []
  for (const b of await store.listBatches()) out.push(await summarize(store, b, now))
  return out
}

async function summarize(store: ManifestStore, b: BatchRecord, now: Date): Promise<BatchStatus> {
  const statuses: EndpointStatus[] = ['reserved', 'generated', 'injected', 'verified', 'failed', 'revoked']
  const counts = Object.fromEntries(await Promise.all(statuses.map(async (s) => [s, await store.count({ batch: b.name, status: s })]))) as Record<
    EndpointStatus,
    number
  >
  const total = statuses.reduce((n, s) => n + counts[s], 0)
  const remaining = total - counts.verified - counts.revoked
  let state: BatchState = 'active'
  if (b.activatesOn && now.getTime() < Date.parse(b.activatesOn)) state = 'pending'
  else if (b.expiresOn && now.getTime() >= Date.parse(b.expiresOn)) state = 'expired'
  if (total > 0 && remaining === 0) state = 'complete'
  return {
    name: b.name,
    template: b.template ?? null,
    count: b.count ?? null,
    profile: b.profile ?? null,
    activatesOn: b.activatesOn ?? null,
    expiresOn: b.expiresOn ?? null,
    createdAt: b.createdAt,
    state,
    counts,
    total,
    remaining,
  }
}

/** CSV for label printers: one row per device, the claim code only here. */
export function labelsCsv(batch: string, devices: ReservedDevice[]): string {
  const esc = (v: string) => {
    const s = csvSafe(v)
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
  }
  const lines = ['batch,endpoint,seq,claim_code']
  for (const d of devices) lines.push([batch, d.endpoint, d.seq === undefined ? '' : String(d.seq), d.claimCode ?? ''].map(esc).join(','))
  return `${lines.join('\n')}\n`
}

export interface WorkOrderWithLabels {
  result: WorkOrderResult
  /** The labels file was written (0600). */
  labelsWritten: boolean
  /** Why the labels could not be written after the work order was committed: the claim codes must be shown instead. */
  labelsProblem?: string
}

/**
 * A work order plus its labels (PDF, PNG directory, ZPL, CSV or a printer: `core/labels`). Claim codes exist only in
 * this process once the batch commits (the manifest keeps hashes), so the caller opens the label output before
 * anything is recorded (its temporary created, never following a symlink, never over an existing file without
 * `--force`, never over the manifest; or the printer connected) and the labels are written after the commit. A labels
 * failure after the commit is returned, not thrown, so the codes are not lost.
 */
export async function createWorkOrderWithLabels(
  openStore: () => Promise<ManifestStore>,
  req: WorkOrderRequest,
  labels?: Pick<LabelOutput, 'target' | 'write' | 'abort'>,
): Promise<WorkOrderWithLabels> {
  let result: WorkOrderResult
  try {
    result = await createWorkOrder(await openStore(), req)
  } catch (e) {
    if (labels) await labels.abort()
    throw e
  }
  if (!labels) return { result, labelsWritten: false }
  try {
    await labels.write(result.devices.map((x) => ({ endpoint: x.endpoint, claim: x.claimCode, batch: req.name, seq: x.seq })))
    return { result, labelsWritten: true }
  } catch (e) {
    await labels.abort()
    // The batch is committed: show the codes rather than lose them (e.g. the disk filled up, the printer went away).
    return { result, labelsWritten: false, labelsProblem: `Could not write ${labels.target} (${(e as { code?: string }).code ?? String(e)})` }
  }
}
