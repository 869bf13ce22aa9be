/**
 * The manifest (ledger) contract. Every endpoint name lwprov ever issues is one row under a UNIQUE constraint.
 * Backends (SQLite, PostgreSQL) implement `ManifestStore`; everything above them is backend-agnostic.
 */
import type { AccountMode, SecurityKind } from '../model.js'
import type { AuditCheckpoint, AuditContext, AuditEntry, AuditInput } from './audit.js'

/**
 * Lifecycle: reserved (a work order holds the name) → generated (credentials exist) → injected (the device took
 * them) → verified (read-back matched). `failed` keeps the name reserved for the same device; `revoked` retires it.
 */
export type EndpointStatus = 'reserved' | 'generated' | 'injected' | 'verified' | 'failed' | 'revoked'
export const ENDPOINT_STATUSES: readonly EndpointStatus[] = [
  'reserved',
  'generated',
  'injected',
  'verified',
  'failed',
  'revoked',
]

/**
 * How a `verified` row was proven (column `proof`, issue 10):
 * - `pop-hmac`: lwprov v2 challenge answered with HMAC-SHA256 keyed with the stored PSK;
 * - `pop-signature`: lwprov v2 challenge answered with a signature by the stored private key;
 * - `digest`: the read-back digest only (lwprov v1 devices, NoSec): a device that stores nothing but echoes the
 *   digest it was sent cannot be told apart;
 * - `fcc-status`: the Izuma FCC device's success status;
 * - `none`: not proven here (imported rows, rows never verified). NULL in the database reads as `none`.
 */
export type ProofName = 'pop-hmac' | 'pop-signature' | 'digest' | 'fcc-status' | 'none'
export const PROOF_NAMES: readonly ProofName[] = ['pop-hmac', 'pop-signature', 'digest', 'fcc-status', 'none']

/** A sealed secret: AES-256-GCM under the manifest master key (see `secrets.ts`). Never plaintext. */
export type SealedSecret = Buffer

/** One manifest row as the domain sees it. */
export interface ManifestRecord {
  endpoint: string
  batch: string
  mode: AccountMode
  security: SecurityKind
  serverUri: string
  status: EndpointStatus
  /** Why the row is failed/revoked, or other status detail. */
  statusReason?: string | null
  pskIdentity?: string | null
  certificatePem?: string | null
  /** Certificate serial, lowercase hex. */
  serial?: string | null
  /** SHA-256 of the certificate DER, lowercase hex. */
  fingerprint?: string | null
  notAfter?: string | null
  /** Sealed secrets (PSK, host-generated private key) as one blob. */
  secret?: SealedSecret | null
  accountId?: string | null
  shortServerId?: number | null
  lifetime?: number | null
  binding?: string | null
  /** Izuma enrollment id (`A-…`) for first-to-claim devices. */
  enrollmentId?: string | null
  /** The device that took (or holds) this name: serial / IMEI / MAC reported at injection. */
  deviceId?: string | null
  /** Station (host/line) that last acted on the row. */
  station?: string | null
  /** Digest the device read back, recorded when verified. */
  readbackDigest?: string | null
  /** Developer credential (devcert): exports can leave these out. */
  developer: boolean
  /** `{seq}` template and number the name came from, so the next batch continues after it. */
  template?: string | null
  seq?: number | null
  /** Claim-code hash (work orders); never the code itself. */
  claimHash?: string | null
  createdAt: string
  updatedAt: string
  /** Where the row came from: null when issued by this manifest, `imported` for `manifest import`. */
  provenance?: string | null
  /** How the last verification was proven (see {@link ProofName}); null = none. */
  proof?: ProofName | null
}

export type NewManifestRecord = Omit<ManifestRecord, 'createdAt' | 'updatedAt'> & { createdAt?: string }

/** Credentials a re-provisioning replaced (`endpoint_history`); the sealed secret stays sealed and is never shown. */
export interface HistoryRecord {
  endpoint: string
  supersededAt: string
  /** The operator's `--reason`. */
  reason: string
  /** Station that re-provisioned the endpoint. */
  supersededBy: string | null
  deviceId: string | null
  status: EndpointStatus
  serverUri: string | null
  pskIdentity: string | null
  certificatePem: string | null
  serial: string | null
  fingerprint: string | null
  notAfter: string | null
  hasSecret: boolean
  readbackDigest: string | null
  provenance: string | null
}

/** Manifest policies (`lwprov manifest policy`), enforced on every issuing path. Absent = not restricted. */
export interface ManifestPolicy {
  /** No just-in-time names: every endpoint must come from a work order (`batch create`). */
  requireWorkOrder?: boolean
  minPskBytes?: number
  /** Server URIs credentials may point at (exact match). */
  allowedServers?: string[]
  /** Regular expression every endpoint name must match (anchored). */
  endpointPattern?: string
  maxCertDays?: number
}

export interface ManifestFilter {
  batch?: string
  status?: EndpointStatus | EndpointStatus[]
  /** Rows updated at or after this ISO time. */
  since?: string
  developer?: boolean
  deviceId?: string
  limit?: number
}

/** A work order / batch header. */
export interface BatchRecord {
  name: string
  template?: string | null
  count?: number | null
  profile?: string | null
  activatesOn?: string | null
  expiresOn?: string | null
  createdAt: string
}

export interface StatusUpdate {
  status: EndpointStatus
  statusReason?: string | null
  deviceId?: string | null
  station?: string | null
  readbackDigest?: string | null
  /** How the verification was proven; a status update other than `verified` without it clears it. */
  proof?: ProofName | null
  /** Fields filled in at injection time (just-in-time credentials, device-generated keys). */
  certificatePem?: string | null
  serial?: string | null
  fingerprint?: string | null
  notAfter?: string | null
  pskIdentity?: string | null
  secret?: SealedSecret | null
  enrollmentId?: string | null
  /** The credential profile actually injected (a reserved work-order row only knows its name until then). */
  mode?: AccountMode
  security?: SecurityKind
  serverUri?: string
  accountId?: string | null
  shortServerId?: number | null
  lifetime?: number | null
  binding?: string | null
  /**
   * Re-provisioning: in the same transaction as the update, the row's current credentials are copied to the history
   * (`history()`) with this reason and station.
   */
  supersede?: { reason: string; station?: string | null }
}

/** Who a manifest is: a namespace id (random, set at creation, carried in exports) and a human name. */
export interface ManifestIdentity {
  namespace: string
  name: string
  createdAt: string
}

/** A CA the manifest knows (a delegated line CA with its quota; a revoked CA). */
export interface CaRecord {
  /** Lower-case hex SHA-256 of the certificate DER. */
  fingerprint: string
  subject: string
  /** The issuing CA's fingerprint (null for a root). */
  parentFingerprint: string | null
  /** Subject key identifier, lower-case hex (device certificates carry it as their AKI). */
  keyId: string
  certificatePem: string
  /** Issuance limit (`ca delegate --max-certificates`); null = unlimited. */
  maxCertificates: number | null
  /** Certificates issued under it so far. */
  issued: number
  notAfter: string
  revokedAt: string | null
  revokeReason: string | null
  createdAt: string
}

/** A revoked certificate (device or CA), for CRLs. */
export interface RevocationRecord {
  /** Certificate serial, lower-case hex. */
  serial: string
  /** The issuing CA's subject key identifier, lower-case hex. */
  issuerKeyId: string
  /** The endpoint, for a device certificate; the CA subject for a CA. */
  subject: string
  revokedAt: string
  reason: string | null
}

export interface AuditFilter {
  /** Entries at or after this ISO time. */
  since?: string
  /** Entries about this endpoint (as subject, or in a batch act's endpoint list). */
  endpoint?: string
  limit?: number
}

export interface ManifestStore {
  /** 'sqlite' | 'postgres'. */
  readonly kind: string
  /** Human description (path or URL without password). */
  readonly location: string
  /** Applies pending schema migrations; returns the schema version now in force. */
  migrate(): Promise<number>
  /**
   * Inserts all rows in one transaction. If any endpoint already exists nothing is written and an
   * `E_DUPLICATE_ENDPOINT` error (exit 3) lists the duplicates in `details.duplicates`.
   */
  insertMany(rows: NewManifestRecord[]): Promise<void>
  /**
   * Atomically reserves `count` consecutive numbers of a `{seq}` template and returns the first. Continues after the
   * highest number ever reserved for the template unless `start` is given. Safe across processes.
   */
  allocateSeq(template: string, count: number, start?: number): Promise<number>
  get(endpoint: string): Promise<ManifestRecord | undefined>
  /** Streams rows in endpoint-insertion order; memory stays flat for millions of rows. */
  list(filter?: ManifestFilter): AsyncIterable<ManifestRecord>
  count(filter?: ManifestFilter): Promise<number>
  /** Updates one row's status and injection fields; throws `E_ENDPOINT_NOT_FOUND` when the endpoint is unknown. */
  updateStatus(endpoint: string, update: StatusUpdate): Promise<ManifestRecord>
  /**
   * Atomically claims the first free `reserved` or pre-generated `generated` row (or the row the device already holds) of a batch for a device, so two
   * stations never take the same name. Returns undefined when the batch has nothing left.
   */
  claimNext(batch: string, deviceId: string, station: string): Promise<ManifestRecord | undefined>
  createBatch(batch: Omit<BatchRecord, 'createdAt'>): Promise<void>
  /**
   * Writes a work-order header and its rows in ONE transaction, header first: `E_BATCH_EXISTS` (exit 3) when the
   * batch name is taken (also by a concurrent creator), `E_DUPLICATE_ENDPOINT` as `insertMany`; nothing is written on error.
   */
  createBatchWithRows(batch: Omit<BatchRecord, 'createdAt'>, rows: NewManifestRecord[]): Promise<void>
  getBatch(name: string): Promise<BatchRecord | undefined>
  listBatches(): Promise<BatchRecord[]>
  /** Superseded credentials of `endpoint`, oldest first. */
  history(endpoint: string): Promise<HistoryRecord[]>
  /** The manifest's policies ({} when none is set). */
  getPolicy(): Promise<ManifestPolicy>
  /** Replaces the manifest's policies. */
  setPolicy(policy: ManifestPolicy): Promise<void>
  /** The manifest's identity (namespace id, name). */
  info(): Promise<ManifestIdentity>
  /** Sets the human name (at creation). */
  setName(name: string): Promise<void>
  /**
   * Who acts (station, operator) and the signing key for audit checkpoints. Every write method then appends its
   * audit entry in its own transaction; `appendAudit` records acts that do not otherwise write (CA created, export).
   */
  setAuditContext(ctx: AuditContext): void
  appendAudit(inputs: AuditInput[]): Promise<void>
  /** Audit entries, ascending by sequence number. */
  listAudit(filter?: AuditFilter): Promise<AuditEntry[]>
  auditCheckpoints(): Promise<AuditCheckpoint[]>
  /** The signing public key the manifest recorded (base64 SPKI), if any checkpoint was signed. */
  signingPublicKey(): Promise<string | undefined>
  /** Records a CA (delegated line CA with its quota), with its audit entry; `E_CA_EXISTS` when already recorded. */
  registerCa(ca: Omit<CaRecord, 'issued' | 'createdAt' | 'revokedAt' | 'revokeReason'>, audit: AuditInput): Promise<void>
  getCa(fingerprint: string): Promise<CaRecord | undefined>
  listCas(): Promise<CaRecord[]>
  /**
   * Takes `count` certificates from a recorded CA's quota, atomically: `E_CA_QUOTA` when it would exceed
   * `maxCertificates`, `E_CA_REVOKED` when the CA is revoked. A CA the manifest does not know is not limited.
   */
  consumeCaQuota(fingerprint: string, count: number): Promise<void>
  /** Revokes certificates (devices: rows become `revoked`; CAs: marked revoked), one transaction with its audit entry. */
  revoke(items: Array<RevocationRecord & { endpoint?: string; caFingerprint?: string }>, audit: AuditInput): Promise<void>
  listRevocations(): Promise<RevocationRecord[]>
  close(): Promise<void>
}
