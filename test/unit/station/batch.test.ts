import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { afterEach, describe, expect, it } from 'vitest'

import { openManifest } from '../../../src/core/manifest/open.js'
import type { ManifestStore } from '../../../src/core/manifest/types.js'

import { assertBatchActive, batchStatus, createWorkOrder, labelsCsv, listBatchStatuses, parseWindowDate } from '../../../src/core/station/batch.js'
import { isValidClaimCode, verifyClaimCode } from '../../../src/core/station/claim-code.js'
import { MemoryStore } from '../inject/memory-store.js'

const now = new Date('2026-11-24T08:00:00Z')

describe('work orders', () => {
  it('reserves names up front with claim-code hashes only', async () => {
    const store = new MemoryStore()
    const r = await createWorkOrder(store, { name: 'WO-1', count: 5, template: 'urn:dev:os:320973-WO{seq:04}', claimCodes: true, now })
    expect(r.devices.map((d) => d.endpoint)).toEqual([1, 2, 3, 4, 5].map((n) => `urn:dev:os:320973-WO000${n}`))
    const rows = [...store.rows.values()]
    expect(rows.every((x) => x.status === 'reserved' && x.batch === 'WO-1')).toBe(true)
    for (const d of r.devices) {
      expect(isValidClaimCode(d.claimCode!)).toBe(true)
      const row = store.rows.get(d.endpoint)!
      expect(row.claimHash).toBeTruthy()
      expect(row.claimHash).not.toContain(d.claimCode!.replace(/-/g, ''))
      expect(verifyClaimCode(d.claimCode!, row.claimHash!)).toBe(true)
    }
    expect(store.batches.get('WO-1')).toMatchObject({ count: 5, template: 'urn:dev:os:320973-WO{seq:04}' })
    const csv = labelsCsv('WO-1', r.devices)
    expect(csv.split('\n')[0]).toBe('batch,endpoint,seq,claim_code')
    expect(csv).toContain(r.devices[0]!.claimCode!)
  })

  it('continues the counter and is all-or-nothing on a clash', async () => {
    const store = new MemoryStore()
    await createWorkOrder(store, { name: 'WO-1', count: 3, template: 'dev-{seq:03}', now })
    const r2 = await createWorkOrder(store, { name: 'WO-2', count: 2, template: 'dev-{seq:03}', now })
    expect(r2.devices.map((d) => d.endpoint)).toEqual(['dev-004', 'dev-005'])
    await expect(createWorkOrder(store, { name: 'WO-3', count: 3, template: 'dev-{seq:03}', start: 5, now })).rejects.toMatchObject({
      code: 'E_DUPLICATE_ENDPOINT',
    })
    expect(store.batches.has('WO-3')).toBe(false)
    expect(store.rows.size).toBe(5)
    await expect(createWorkOrder(store, { name: 'WO-1', count: 1, template: 'x-{seq}', now })).rejects.toMatchObject({ code: 'E_BATCH_EXISTS', exitCode: 3 })
  })

  it('refuses device-filled templates and single names for many devices', async () => {
    const store = new MemoryStore()
    await expect(createWorkOrder(store, { name: 'W', count: 2, template: 'dev-{serial}', now })).rejects.toMatchObject({ code: 'E_TEMPLATE_NEEDS_DEVICE' })
    await expect(createWorkOrder(store, { name: 'W', count: 2, template: 'dev-one', now })).rejects.toMatchObject({ code: 'E_TEMPLATE_NOT_UNIQUE' })
    await expect(createWorkOrder(store, { name: 'bad name', count: 2, template: 'd{seq}', now })).rejects.toMatchObject({ code: 'E_BATCH_NAME_INVALID' })
  })

  it('enforces the activation window', async () => {
    const b = { name: 'WO', activatesOn: '2026-12-01T00:00:00.000Z', expiresOn: '2027-01-01T00:00:00.000Z' }
    expect(() => assertBatchActive(b, now)).toThrowError(expect.objectContaining({ code: 'E_BATCH_NOT_ACTIVE', exitCode: 3 }))
    expect(() => assertBatchActive(b, new Date('2026-12-15T00:00:00Z'))).not.toThrow()
    expect(() => assertBatchActive(b, new Date('2027-01-01T00:00:00Z'))).toThrowError(expect.objectContaining({ code: 'E_BATCH_EXPIRED' }))
    expect(() => assertBatchActive({ name: 'open' }, now)).not.toThrow()
    expect(parseWindowDate('--activates-on', '2026-12-01').toISOString()).toBe('2026-12-01T00:00:00.000Z')
    expect(() => parseWindowDate('--expires-on', 'tomorrow')).toThrowError(expect.objectContaining({ code: 'E_DATE_INVALID' }))
  })

  it('reports counts per status, state and remaining', async () => {
    const store = new MemoryStore()
    await createWorkOrder(store, { name: 'WO-9', count: 4, template: 'e-{seq:02}', now, expiresOn: new Date('2026-12-01T00:00:00Z') })
    await store.updateStatus('e-01', { status: 'verified' })
    await store.updateStatus('e-02', { status: 'failed', statusReason: 'timeout' })
    const s = await batchStatus(store, 'WO-9', now)
    expect(s.counts).toMatchObject({ reserved: 2, verified: 1, failed: 1 })
    expect(s).toMatchObject({ total: 4, remaining: 3, state: 'active' })
    expect((await batchStatus(store, 'WO-9', new Date('2026-12-02T00:00:00Z'))).state).toBe('expired')
    expect(await listBatchStatuses(store, now)).toHaveLength(1)
    await expect(batchStatus(store, 'nope', now)).rejects.toMatchObject({ code: 'E_BATCH_NOT_FOUND' })
  })

  it('two concurrent creators of the same work order: one wins, the other writes nothing', async () => {
    const store = new MemoryStore()
    const results = await Promise.allSettled([
      createWorkOrder(store, { name: 'WO-1', count: 3, template: 'race-{seq:03}', now }),
      createWorkOrder(store, { name: 'WO-1', count: 3, template: 'race-{seq:03}', now }),
    ])
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult
    expect(lost.reason).toMatchObject({ code: 'E_BATCH_EXISTS', exitCode: 3 })
    expect(store.rows.size).toBe(3)
  })
})

describe('work orders on SQLite (header and rows in one transaction)', () => {
  const cleanup: (() => Promise<void> | void)[] = []
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn()
  })
  async function open(dir: string): Promise<ManifestStore> {
    const s = await openManifest(join(dir, 'manifest.db'))
    cleanup.push(() => s.close())
    return s
  }
  function tmp(): string {
    const dir = mkdtempSync(join(tmpdir(), 'lwprov-wo-'))
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
    return dir
  }

  it('a second creator of the same name (another connection) fails with E_BATCH_EXISTS and adds no rows', async () => {
    const dir = tmp()
    const a = await open(dir)
    const b = await open(dir)
    const results = await Promise.allSettled([
      createWorkOrder(a, { name: 'WO-1', count: 4, template: 'sq-{seq:03}', now }),
      createWorkOrder(b, { name: 'WO-1', count: 4, template: 'sq-{seq:03}', now }),
    ])
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toMatchObject({ code: 'E_BATCH_EXISTS', exitCode: 3 })
    expect(await a.count({ batch: 'WO-1' })).toBe(4)
    expect(await a.count()).toBe(4)
  })

  it('the store method itself refuses a taken header even when the caller skipped the check', async () => {
    const s = await open(tmp())
    await s.createBatchWithRows({ name: 'WO-1' }, [row('one-1', 'WO-1')])
    await expect(s.createBatchWithRows({ name: 'WO-1' }, [row('one-2', 'WO-1')])).rejects.toMatchObject({ code: 'E_BATCH_EXISTS', exitCode: 3 })
    expect(await s.get('one-2')).toBeUndefined()
  })

  it('a duplicate endpoint rolls the header back too', async () => {
    const s = await open(tmp())
    await s.insertMany([row('dup-002', 'old')])
    await expect(createWorkOrder(s, { name: 'WO-2', count: 3, template: 'dup-{seq:03}', start: 1, now })).rejects.toMatchObject({
      code: 'E_DUPLICATE_ENDPOINT',
      details: { duplicates: ['dup-002'] },
    })
    expect(await s.getBatch('WO-2')).toBeUndefined()
    expect(await s.count()).toBe(1)
    // The name is free again: nothing half-written blocks a retry with other numbers.
    await createWorkOrder(s, { name: 'WO-2', count: 3, template: 'dup-{seq:03}', start: 10, now })
    expect(await s.count({ batch: 'WO-2' })).toBe(3)
  })
})

function row(endpoint: string, batch: string) {
  return { endpoint, batch, mode: 'bootstrap' as const, security: 'cert' as const, serverUri: '', status: 'reserved' as const, developer: false }
}
