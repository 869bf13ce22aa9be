import { describe, expect, it } from 'vitest'

import { assertBatchActive, batchStatus, createWorkOrder, labelsCsv, listBatchStatuses, parseWindowDate } from '../../../src/core/station/batch.js'
import { isValidClaimCode, verifyClaimCode } from '../../../src/core/station/claim-code.js'
import { MemoryStore } from './memory-store.js'

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
})
