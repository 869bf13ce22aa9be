/** An in-memory `ManifestStore` with the contract's semantics, for session tests that need no database. */
import { conflictError, usageError } from '../../../src/core/errors.js'
import type { BatchRecord, ManifestFilter, ManifestRecord, ManifestStore, NewManifestRecord, StatusUpdate, HistoryRecord, ManifestPolicy } from '../../../src/core/manifest/types.js'

export class MemoryStore implements ManifestStore {
  readonly kind = 'memory'
  readonly location = ':memory:'
  readonly rows = new Map<string, ManifestRecord>()
  readonly batches = new Map<string, BatchRecord>()
  private readonly seqs = new Map<string, number>()

  async migrate(): Promise<number> {
    return 1
  }

  async insertMany(rows: NewManifestRecord[]): Promise<void> {
    const dup = rows.filter((r) => this.rows.has(r.endpoint)).map((r) => r.endpoint)
    if (dup.length > 0) throw conflictError('E_DUPLICATE_ENDPOINT', `duplicate: ${dup.join(', ')}`, undefined, { duplicates: dup })
    const now = new Date().toISOString()
    for (const r of rows) this.rows.set(r.endpoint, { ...r, createdAt: r.createdAt ?? now, updatedAt: now })
  }

  async allocateSeq(template: string, count: number, start?: number): Promise<number> {
    const first = start ?? (this.seqs.get(template) ?? 0) + 1
    this.seqs.set(template, Math.max(this.seqs.get(template) ?? 0, first + count - 1))
    return first
  }

  async get(endpoint: string): Promise<ManifestRecord | undefined> {
    const r = this.rows.get(endpoint)
    return r ? { ...r } : undefined
  }

  private match(r: ManifestRecord, f: ManifestFilter = {}): boolean {
    if (f.batch !== undefined && r.batch !== f.batch) return false
    if (f.deviceId !== undefined && r.deviceId !== f.deviceId) return false
    if (f.status !== undefined && !(Array.isArray(f.status) ? f.status : [f.status]).includes(r.status)) return false
    return true
  }

  async *list(filter?: ManifestFilter): AsyncIterable<ManifestRecord> {
    for (const r of this.rows.values()) if (this.match(r, filter)) yield { ...r }
  }

  async count(filter?: ManifestFilter): Promise<number> {
    return [...this.rows.values()].filter((r) => this.match(r, filter)).length
  }

  async updateStatus(endpoint: string, u: StatusUpdate): Promise<ManifestRecord> {
    const { supersede, ...update } = u
    const current = this.rows.get(endpoint)
    if (supersede && current) this.historyRows.push(historyOf(current, supersede, new Date().toISOString()))
    u = update
    const r = this.rows.get(endpoint)
    if (!r) throw usageError('E_ENDPOINT_NOT_FOUND', `no ${endpoint}`)
    const next = { ...r, updatedAt: new Date().toISOString() } as ManifestRecord
    for (const [k, v] of Object.entries(u)) if (v !== undefined) (next as unknown as Record<string, unknown>)[k] = v
    this.rows.set(endpoint, next)
    return { ...next }
  }

  async claimNext(batch: string, deviceId: string, station: string): Promise<ManifestRecord | undefined> {
    for (const r of this.rows.values()) {
      if (r.batch !== batch) continue
      if (((r.status === 'reserved' || r.status === 'generated') && !r.deviceId) || (r.status === 'failed' && r.deviceId === deviceId)) {
        return this.updateStatus(r.endpoint, { status: r.status, deviceId, station })
      }
    }
    return undefined
  }

  async createBatch(b: Omit<BatchRecord, 'createdAt'>): Promise<void> {
    this.batches.set(b.name, { ...b, createdAt: new Date().toISOString() })
  }

  async createBatchWithRows(b: Omit<BatchRecord, 'createdAt'>, rows: NewManifestRecord[]): Promise<void> {
    if (this.batches.has(b.name)) throw conflictError('E_BATCH_EXISTS', `A batch named ${b.name} already exists.`)
    // All or nothing, like the real stores' single transaction.
    const dup = rows.filter((r) => this.rows.has(r.endpoint)).map((r) => r.endpoint)
    if (dup.length > 0) throw conflictError('E_DUPLICATE_ENDPOINT', `duplicate: ${dup.join(', ')}`, undefined, { duplicates: dup })
    await this.createBatch(b)
    await this.insertMany(rows)
  }

  async getBatch(name: string): Promise<BatchRecord | undefined> {
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

  async listBatches(): Promise<BatchRecord[]> {
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
  async close(): Promise<void> {}
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
