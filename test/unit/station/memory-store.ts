/** An in-memory ManifestStore with the contract's semantics (UNIQUE endpoints, atomic claimNext), for unit tests. */
import { conflictError, usageError } from '../../../src/core/errors.js'
import type { BatchRecord, ManifestFilter, ManifestRecord, ManifestStore, NewManifestRecord, StatusUpdate, HistoryRecord, ManifestPolicy } from '../../../src/core/manifest/types.js'

export class MemoryStore implements ManifestStore {
  readonly kind = 'memory'
  readonly location = 'memory'
  rows = new Map<string, ManifestRecord>()
  batches = new Map<string, BatchRecord>()
  seqs = new Map<string, number>()

  async migrate() {
    return 1
  }
  async insertMany(rows: NewManifestRecord[]) {
    const dups = rows.filter((r) => this.rows.has(r.endpoint)).map((r) => r.endpoint)
    if (dups.length > 0) throw conflictError('E_DUPLICATE_ENDPOINT', `duplicates: ${dups.join(', ')}`, undefined, { duplicates: dups })
    const now = new Date().toISOString()
    for (const r of rows) this.rows.set(r.endpoint, { ...r, createdAt: r.createdAt ?? now, updatedAt: now })
  }
  async allocateSeq(template: string, count: number, start?: number) {
    const next = start ?? (this.seqs.get(template) ?? 0) + 1
    this.seqs.set(template, Math.max(this.seqs.get(template) ?? 0, next + count - 1))
    return next
  }
  async get(endpoint: string) {
    return this.rows.get(endpoint)
  }
  private match(r: ManifestRecord, f: ManifestFilter = {}) {
    if (f.batch !== undefined && r.batch !== f.batch) return false
    if (f.status !== undefined && !(Array.isArray(f.status) ? f.status : [f.status]).includes(r.status)) return false
    if (f.deviceId !== undefined && r.deviceId !== f.deviceId) return false
    return true
  }
  async *list(f?: ManifestFilter) {
    for (const r of this.rows.values()) if (this.match(r, f)) yield r
  }
  async count(f?: ManifestFilter) {
    return [...this.rows.values()].filter((r) => this.match(r, f)).length
  }
  async updateStatus(endpoint: string, u: StatusUpdate) {
    const { supersede, ...update } = u
    const current = this.rows.get(endpoint)
    if (supersede && current) this.historyRows.push(historyOf(current, supersede, new Date().toISOString()))
    u = update
    const r = this.rows.get(endpoint)
    if (!r) throw usageError('E_ENDPOINT_NOT_FOUND', endpoint)
    const next = { ...r, ...Object.fromEntries(Object.entries(u).filter(([, v]) => v !== undefined)), updatedAt: new Date().toISOString() } as ManifestRecord
    this.rows.set(endpoint, next)
    return next
  }
  async claimNext(batch: string, deviceId: string, station: string) {
    const rows = [...this.rows.values()].filter((r) => r.batch === batch)
    const mine = rows.find((r) => r.deviceId === deviceId && ['failed', 'injected', 'generated'].includes(r.status))
    const row = mine ?? rows.find((r) => r.status === 'reserved' && !r.deviceId)
    if (!row) return undefined
    const next = { ...row, deviceId, station, status: 'generated' as const }
    this.rows.set(row.endpoint, next)
    return next
  }
  async createBatch(b: Omit<BatchRecord, 'createdAt'>) {
    this.batches.set(b.name, { ...b, createdAt: new Date().toISOString() })
  }
  /** Atomic like the real backends: header name checked first, then every row, and nothing is kept on error. */
  async createBatchWithRows(b: Omit<BatchRecord, 'createdAt'>, rows: NewManifestRecord[]) {
    // No await in between: another creator cannot interleave, as a transaction would guarantee.
    if (this.batches.has(b.name)) throw conflictError('E_BATCH_EXISTS', `A batch named ${b.name} already exists.`)
    const dups = rows.filter((r) => this.rows.has(r.endpoint)).map((r) => r.endpoint)
    if (dups.length > 0) throw conflictError('E_DUPLICATE_ENDPOINT', `duplicates: ${dups.join(', ')}`, undefined, { duplicates: dups })
    const now = new Date().toISOString()
    this.batches.set(b.name, { ...b, createdAt: now })
    for (const r of rows) this.rows.set(r.endpoint, { ...r, createdAt: r.createdAt ?? now, updatedAt: now })
  }
  async getBatch(name: string) {
    return this.batches.get(name)
  }
  historyRows: HistoryRecord[] = []
  policy: ManifestPolicy = {}

  async history(endpoint: string): Promise<HistoryRecord[]> {
    return this.historyRows.filter((h) => h.endpoint === endpoint)
  }

  async getPolicy(): Promise<ManifestPolicy> {
    return { ...this.policy }
  }

  async setPolicy(p: ManifestPolicy): Promise<void> {
    this.policy = { ...p }
  }

  async listBatches() {
    return [...this.batches.values()]
  }
  private identity = { namespace: 'memory', name: 'memory', createdAt: new Date(0).toISOString() }
  async info() {
    return { ...this.identity }
  }
  // audit trail and CA registry: not exercised by these unit tests
  setAuditContext(): void {}
  async appendAudit(): Promise<void> {}
  async listAudit() {
    return []
  }
  async auditCheckpoints() {
    return []
  }
  async signingPublicKey() {
    return undefined
  }
  async registerCa(): Promise<void> {}
  async getCa() {
    return undefined
  }
  async listCas() {
    return []
  }
  async consumeCaQuota(): Promise<void> {}
  async revoke(): Promise<void> {}
  async listRevocations() {
    return []
  }
  async setName(name: string) {
    this.identity.name = name
  }
  async close() {}
}

function historyOf(r: ManifestRecord, s: { reason: string; station?: string | null }, at: string): HistoryRecord {
  return {
    endpoint: r.endpoint,
    supersededAt: at,
    reason: s.reason,
    supersededBy: s.station ?? null,
    deviceId: r.deviceId ?? null,
    status: r.status,
    serverUri: r.serverUri,
    pskIdentity: r.pskIdentity ?? null,
    certificatePem: r.certificatePem ?? null,
    serial: r.serial ?? null,
    fingerprint: r.fingerprint ?? null,
    notAfter: r.notAfter ?? null,
    hasSecret: Boolean(r.secret),
    readbackDigest: r.readbackDigest ?? null,
    provenance: r.provenance ?? null,
  }
}
