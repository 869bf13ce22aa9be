/**
 * The manifest's audit trail: an append-only, hash-chained log of every act that changes the ledger or uses a key.
 *
 * Entry n stores SHA-256 over (n, time, station, operator, action, subject, details, hash of entry n-1), so an entry
 * edited, deleted or moved by hand breaks the chain at that point. Recomputing the whole chain after an edit is
 * possible for anyone with write access, so each append transaction also stores a checkpoint: the head (seq, hash)
 * signed with the manifest signing key (Ed25519, derived from the master key, which the database does not hold).
 * `verifyAudit` recomputes the chain and checks every checkpoint.
 *
 * Appends are one entry per act (a batch of 10,000 certificates is one `issued` entry with the count and a SHA-256
 * of the endpoint list), written inside the act's own transaction by the stores.
 */
import { createHash, createPrivateKey, createPublicKey, hkdfSync, sign, verify, type KeyObject } from 'node:crypto'

/** What an act contributes; the store adds time, station, operator and the chain. */
export interface AuditInput {
  /** e.g. `issued`, `injected`, `verified`, `failed`, `reprovisioned`, `revoked`, `imported`, `ca.created`. */
  action: string
  /** The endpoint, batch or CA the act is about. */
  subject: string
  /** Counts, hashes and other facts (JSON object); never a secret. */
  details?: Record<string, unknown>
}

/** One stored entry. */
export interface AuditEntry {
  seq: number
  at: string
  station: string
  operator: string
  action: string
  subject: string
  /** JSON text. */
  details: string
  prevHash: string
  hash: string
}

/** A signed chain head. */
export interface AuditCheckpoint {
  seq: number
  hash: string
  at: string
  /** base64 SPKI DER of the Ed25519 key that signed it. */
  publicKey: string
  /** base64 Ed25519 signature over `checkpointMessage`. */
  signature: string
}

/** Who acts, set once per command (see cli/context.ts). */
export interface AuditContext {
  station: string
  operator: string
  /** The manifest signing key (from the master key); without it no checkpoint is written. */
  signingKey?: KeyObject
}

export const GENESIS_HASH = '0'.repeat(64)

/** The chain hash of an entry (canonical JSON of its fields and the previous hash). */
export function entryHash(e: Omit<AuditEntry, 'hash'>): string {
  return createHash('sha256').update(JSON.stringify([e.seq, e.at, e.station, e.operator, e.action, e.subject, e.details, e.prevHash])).digest('hex')
}

export const checkpointMessage = (seq: number, hash: string): Buffer => Buffer.from(`lwprov audit checkpoint v1\n${seq}\n${hash}\n`, 'utf8')

/** PKCS#8 prefix of an Ed25519 private key (RFC 8410) before its 32-byte seed. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

/**
 * The manifest signing key: Ed25519 from HKDF-SHA256 over the master key. Whoever holds the master key can sign;
 * the public half is stored in the manifest and in each signed export.
 */
export function signingKeyFromMasterKey(masterKey: Buffer): KeyObject {
  const seed = Buffer.from(hkdfSync('sha256', masterKey, Buffer.from('lwprov'), Buffer.from('manifest signing key v1'), 32))
  return createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' })
}

/** base64 SPKI DER of a key's public half. */
export function publicKeyB64(key: KeyObject): string {
  return (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' }).toString('base64')
}

const SUBJECT_LIST_INLINE = 50

/** An `AuditInput` for an act on many endpoints: count, SHA-256 of the list, the names themselves when few. */
export function manyEndpoints(action: string, subject: string, endpoints: readonly string[], extra: Record<string, unknown> = {}): AuditInput {
  const list = createHash('sha256').update(endpoints.join('\n')).digest('hex')
  return {
    action,
    subject,
    details: { ...extra, count: endpoints.length, endpointsSha256: list, ...(endpoints.length <= SUBJECT_LIST_INLINE ? { endpoints } : {}) },
  }
}

/** The entries (and checkpoint) an append adds after `last`. Pure: the stores run it inside their transaction. */
export function buildAppend(
  last: { seq: number; hash: string } | undefined,
  inputs: readonly AuditInput[],
  ctx: AuditContext,
  now: Date = new Date(),
): { entries: AuditEntry[]; checkpoint?: AuditCheckpoint } {
  let seq = last?.seq ?? 0
  let prevHash = last?.hash ?? GENESIS_HASH
  const at = now.toISOString()
  const entries: AuditEntry[] = []
  for (const i of inputs) {
    seq += 1
    const e = { seq, at, station: ctx.station, operator: ctx.operator, action: i.action, subject: i.subject, details: JSON.stringify(i.details ?? {}), prevHash }
    const hash = entryHash(e)
    entries.push({ ...e, hash })
    prevHash = hash
  }
  if (!ctx.signingKey || entries.length === 0) return { entries }
  const head = entries[entries.length - 1]!
  return {
    entries,
    checkpoint: {
      seq: head.seq,
      hash: head.hash,
      at,
      publicKey: publicKeyB64(ctx.signingKey),
      signature: sign(null, checkpointMessage(head.seq, head.hash), ctx.signingKey).toString('base64'),
    },
  }
}

/** What `lwprov audit verify` reports. */
export interface AuditVerification {
  ok: boolean
  entries: number
  checkpoints: number
  /** Highest sequence number covered by a valid signed checkpoint (0 when none). */
  signedThrough: number
  head?: { seq: number; hash: string }
  /** The first broken link, when not ok. */
  broken?: { seq: number; reason: string }
  warnings: string[]
}

/**
 * Recomputes the chain over `entries` (ascending by seq) and checks every checkpoint against it and against
 * `trustedKey` (base64 SPKI; when absent, the manifest's own recorded key is used and a warning says so).
 */
export function verifyAudit(entries: readonly AuditEntry[], checkpoints: readonly AuditCheckpoint[], trustedKey: string | undefined, recordedKey: string | undefined): AuditVerification {
  const warnings: string[] = []
  let broken: AuditVerification['broken']
  let prev = GENESIS_HASH
  const bySeq = new Map<number, AuditEntry>()
  for (let i = 0; i < entries.length && !broken; i++) {
    const e = entries[i]!
    const expected = i + 1
    if (e.seq !== expected) {
      broken = { seq: expected, reason: e.seq > expected ? `entry ${expected} is missing (deleted): the log jumps to ${e.seq}` : `entry ${e.seq} appears twice or out of order` }
      break
    }
    if (e.prevHash !== prev) {
      broken = { seq: e.seq, reason: `entry ${e.seq} does not follow entry ${e.seq - 1} (its previous-entry hash differs: rows deleted, inserted or reordered)` }
      break
    }
    if (entryHash(e) !== e.hash) {
      broken = { seq: e.seq, reason: `entry ${e.seq} was altered (its content no longer matches its hash)` }
      break
    }
    prev = e.hash
    bySeq.set(e.seq, e)
  }
  const key = trustedKey ?? recordedKey
  if (trustedKey === undefined && checkpoints.length > 0) warnings.push('The signing key was taken from the manifest itself; pass the master key (LWPROV_MASTER_KEY / --key-file) to pin it.')
  if (trustedKey !== undefined && recordedKey !== undefined && trustedKey !== recordedKey) warnings.push('The manifest records another signing key than the one derived from the master key given.')
  let signedThrough = 0
  const lastSeq = entries.length ? entries[entries.length - 1]!.seq : 0
  for (const c of checkpoints) {
    if (broken && c.seq >= broken.seq) continue
    const fail = (reason: string): void => {
      broken ??= { seq: c.seq, reason }
    }
    if (key === undefined) {
      fail(`checkpoint ${c.seq} cannot be checked: no signing key`)
      continue
    }
    let good = false
    try {
      good = c.publicKey === key && verify(null, checkpointMessage(c.seq, c.hash), createPublicKey({ key: Buffer.from(key, 'base64'), format: 'der', type: 'spki' }), Buffer.from(c.signature, 'base64'))
    } catch {
      good = false
    }
    if (!good) {
      fail(`the signed checkpoint at entry ${c.seq} has an invalid signature (or another key)`)
      continue
    }
    const e = bySeq.get(c.seq)
    if (!e) fail(c.seq > lastSeq ? `entries after ${lastSeq} were deleted: a signed checkpoint covers entry ${c.seq}` : `entry ${c.seq} is missing`)
    else if (e.hash !== c.hash) fail(`entry ${c.seq} differs from what was signed (the chain was rewritten)`)
    else signedThrough = Math.max(signedThrough, c.seq)
  }
  if (!broken && lastSeq > signedThrough) warnings.push(`Entries ${signedThrough + 1}..${lastSeq} are chained but not covered by a signed checkpoint (appended without the master key).`)
  const head = entries.length ? { seq: lastSeq, hash: entries[entries.length - 1]!.hash } : undefined
  return { ok: !broken, entries: entries.length, checkpoints: checkpoints.length, signedThrough, ...(head ? { head } : {}), ...(broken ? { broken } : {}), warnings }
}
