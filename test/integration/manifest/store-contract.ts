/** The `ManifestStore` contract, run against every backend (SQLite, PostgreSQL). */
import { randomBytes } from 'node:crypto'

import { describe, expect, it } from 'vitest'

import type { ManifestStore, NewManifestRecord } from '../../../src/core/manifest/types.js'

export function rec(endpoint: string, extra: Partial<NewManifestRecord> = {}): NewManifestRecord {
  return {
    endpoint,
    batch: 'b1',
    mode: 'direct',
    security: 'psk',
    serverUri: 'coaps://lwm2m.example.com:5684',
    status: 'generated',
    pskIdentity: endpoint,
    developer: false,
    ...extra,
  }
}

async function all(store: ManifestStore, f?: Parameters<ManifestStore['list']>[0]) {
  const out = []
  for await (const r of store.list(f)) out.push(r)
  return out
}

export function storeContract(name: string, fresh: () => Promise<ManifestStore>): void {
  describe(`${name} ManifestStore contract`, () => {
    it('inserts and reads back every field', async () => {
      const s = await fresh()
      const secret = randomBytes(50)
      await s.insertMany([
        rec('ep-1', {
          secret,
          certificatePem: '-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n',
          serial: '0a0b',
          fingerprint: 'ff'.repeat(32),
          notAfter: '2036-01-01T00:00:00.000Z',
          accountId: 'acc',
          shortServerId: 101,
          lifetime: 300,
          binding: 'UQ',
          developer: true,
          template: 'ep-{seq}',
          seq: 1,
          createdAt: '2026-01-01T00:00:00.000Z',
        }),
      ])
      const r = (await s.get('ep-1'))!
      expect(r).toMatchObject({ endpoint: 'ep-1', batch: 'b1', mode: 'direct', security: 'psk', status: 'generated', shortServerId: 101, lifetime: 300, binding: 'UQ', developer: true, seq: 1, template: 'ep-{seq}', fingerprint: 'ff'.repeat(32), serial: '0a0b', accountId: 'acc', createdAt: '2026-01-01T00:00:00.000Z', deviceId: null })
      expect(Buffer.isBuffer(r.secret) && r.secret.equals(secret)).toBe(true)
      expect(typeof r.updatedAt).toBe('string')
      expect(await s.get('nope')).toBeUndefined()
    })

    it('refuses a batch with any existing name, writes nothing and names the duplicates', async () => {
      const s = await fresh()
      await s.insertMany([rec('a'), rec('b'), rec('c')])
      const err = await s.insertMany([rec('x'), rec('b'), rec('y'), rec('c')]).catch((e) => e)
      expect(err).toMatchObject({ code: 'E_DUPLICATE_ENDPOINT', exitCode: 3, details: { duplicates: ['b', 'c'] } })
      expect(err.message).toContain('2 endpoint(s) already issued: b, c')
      expect(await s.count()).toBe(3)
      expect(await s.get('x')).toBeUndefined()
      const many = Array.from({ length: 25 }, (_, i) => rec(`d${i}`))
      await s.insertMany(many)
      const e2 = await s.insertMany(many).catch((e) => e)
      expect(e2.details.duplicates).toHaveLength(25)
      expect(e2.message).toContain('(15 more)')
      const e3 = await s.insertMany([rec('z'), rec('z')]).catch((e) => e)
      expect(e3.details.duplicates).toEqual(['z'])
    })

    it('allocates {seq} ranges after the highest issued, honours start', async () => {
      const s = await fresh()
      expect(await s.allocateSeq('t{seq}', 10)).toBe(1)
      expect(await s.allocateSeq('t{seq}', 5)).toBe(11)
      expect(await s.allocateSeq('other{seq}', 1)).toBe(1)
      expect(await s.allocateSeq('t{seq}', 5, 100)).toBe(100)
      expect(await s.allocateSeq('t{seq}', 1)).toBe(105)
      expect(await s.allocateSeq('t{seq}', 3, 2)).toBe(2)
      expect(await s.allocateSeq('t{seq}', 1)).toBe(106)
      // rows recorded with a seq beyond the counter (imports, another tool) push the counter on
      await s.insertMany([rec('u500', { template: 'u{seq}', seq: 500 })])
      expect(await s.allocateSeq('u{seq}', 2)).toBe(501)
      await expect(s.allocateSeq('t{seq}', 0)).rejects.toMatchObject({ code: 'E_COUNT_INVALID' })
    })

    it('lists with filters in insertion order, streams past page sizes', async () => {
      const s = await fresh()
      const rows = Array.from({ length: 2500 }, (_, i) => rec(`n${String(i).padStart(5, '0')}`, { batch: i % 2 ? 'odd' : 'even', status: i % 5 === 0 ? 'verified' : 'generated', developer: i === 7 }))
      await s.insertMany(rows)
      const l = await all(s)
      expect(l.map((r) => r.endpoint)).toEqual(rows.map((r) => r.endpoint))
      expect((await all(s, { batch: 'odd' })).length).toBe(1250)
      expect((await all(s, { status: 'verified' })).length).toBe(500)
      expect((await all(s, { status: ['verified', 'generated'], batch: 'even' })).length).toBe(1250)
      expect((await all(s, { developer: true })).map((r) => r.endpoint)).toEqual(['n00007'])
      expect((await all(s, { limit: 1001 })).length).toBe(1001)
      expect(await s.count({ batch: 'even', status: 'verified' })).toBe(250)
      expect((await all(s, { since: '2999-01-01T00:00:00Z' })).length).toBe(0)
      expect((await all(s, { since: '2000-01-01T00:00:00Z' })).length).toBe(2500)
    })

    it('updates status and injection fields; unknown endpoint is E_ENDPOINT_NOT_FOUND', async () => {
      const s = await fresh()
      await s.insertMany([rec('e1')])
      const r = await s.updateStatus('e1', { status: 'verified', readbackDigest: 'abcd', deviceId: 'SN1', station: 'st' })
      expect(r).toMatchObject({ status: 'verified', readbackDigest: 'abcd', deviceId: 'SN1', station: 'st', pskIdentity: 'e1' })
      expect((await all(s, { deviceId: 'SN1' })).length).toBe(1)
      await expect(s.updateStatus('nope', { status: 'failed' })).rejects.toMatchObject({ code: 'E_ENDPOINT_NOT_FOUND', exitCode: 2 })
    })

    it('re-provisioning keeps the replaced credentials as history, in the same write (issue 10)', async () => {
      const s = await fresh()
      await s.insertMany([rec('h1', { secret: Buffer.from('sealed-old'), provenance: 'imported' })])
      await s.updateStatus('h1', { status: 'verified', readbackDigest: 'aa'.repeat(32), deviceId: 'SN-H' })
      expect(await s.history('h1')).toEqual([])
      await s.updateStatus('h1', { status: 'verified', readbackDigest: 'bb'.repeat(32), secret: Buffer.from('sealed-new'), supersede: { reason: 'RMA 7', station: 'st-9' } })
      const h = await s.history('h1')
      expect(h).toHaveLength(1)
      expect(h[0]).toMatchObject({ endpoint: 'h1', reason: 'RMA 7', supersededBy: 'st-9', deviceId: 'SN-H', status: 'verified', readbackDigest: 'aa'.repeat(32), hasSecret: true, provenance: 'imported' })
      expect((await s.get('h1'))!).toMatchObject({ readbackDigest: 'bb'.repeat(32), provenance: 'imported' })
      // An unknown endpoint changes nothing, history included.
      await expect(s.updateStatus('nope', { status: 'verified', supersede: { reason: 'x' } })).rejects.toMatchObject({ code: 'E_ENDPOINT_NOT_FOUND' })
      expect(await s.history('nope')).toEqual([])
    })

    it('records how a verified row was proven; any later non-verified status clears the proof (issue 10)', async () => {
      const s = await fresh()
      await s.insertMany([rec('p1'), rec('p2')])
      expect((await s.get('p1'))!.proof ?? null).toBeNull()
      expect(await s.updateStatus('p1', { status: 'verified', readbackDigest: 'cc'.repeat(32), proof: 'pop-hmac' })).toMatchObject({ proof: 'pop-hmac' })
      expect((await all(s, { status: 'verified' }))[0]!.proof).toBe('pop-hmac')
      await s.updateStatus('p2', { status: 'verified', readbackDigest: 'dd'.repeat(32), proof: 'pop-signature' })
      // A failed re-injection: the proof described the verification that no longer stands.
      expect(await s.updateStatus('p2', { status: 'failed', statusReason: 'E_PROOF_MISMATCH' })).toMatchObject({ status: 'failed', proof: null })
      expect((await s.get('p1'))!.proof).toBe('pop-hmac')
    })

    it('stores manifest policies', async () => {
      const s = await fresh()
      expect(await s.getPolicy()).toEqual({})
      await s.setPolicy({ requireWorkOrder: true, minPskBytes: 32, allowedServers: ['coaps://a:5684'], endpointPattern: '^x-', maxCertDays: 365 })
      expect(await s.getPolicy()).toEqual({ requireWorkOrder: true, minPskBytes: 32, allowedServers: ['coaps://a:5684'], endpointPattern: '^x-', maxCertDays: 365 })
      await s.setPolicy({ minPskBytes: 16 })
      expect(await s.getPolicy()).toEqual({ minPskBytes: 16 })
    })

    it('claimNext prefers the row the device already holds, else the first free reserved row', async () => {
      const s = await fresh()
      await s.insertMany([rec('r1', { batch: 'wo', status: 'reserved' }), rec('r2', { batch: 'wo', status: 'reserved' }), rec('r3', { batch: 'wo', status: 'reserved' })])
      const a = await s.claimNext('wo', 'devA', 'st1')
      expect(a).toMatchObject({ endpoint: 'r1', deviceId: 'devA', station: 'st1' })
      expect((await s.claimNext('wo', 'devA', 'st2'))?.endpoint).toBe('r1')
      expect((await s.claimNext('wo', 'devB', 'st1'))?.endpoint).toBe('r2')
      await s.updateStatus('r2', { status: 'failed', statusReason: 'timeout' })
      expect((await s.claimNext('wo', 'devB', 'st1'))?.endpoint).toBe('r2')
      await s.updateStatus('r1', { status: 'verified' })
      expect((await s.claimNext('wo', 'devA', 'st1'))?.endpoint).toBe('r3')
      expect(await s.claimNext('wo', 'devC', 'st1')).toBeUndefined()
      expect(await s.claimNext('nobatch', 'devC', 'st1')).toBeUndefined()
    })

    it('claimNext never hands one row to two devices at once', async () => {
      const s = await fresh()
      await s.insertMany(Array.from({ length: 20 }, (_, i) => rec(`c${i}`, { batch: 'wo', status: 'reserved' })))
      const got = await Promise.all(Array.from({ length: 25 }, (_, i) => s.claimNext('wo', `dev${i}`, 'st')))
      const names = got.filter(Boolean).map((r) => r!.endpoint)
      expect(names.length).toBe(20)
      expect(new Set(names).size).toBe(20)
    })

    it('stores batches', async () => {
      const s = await fresh()
      await s.createBatch({ name: 'wo1', template: 'x{seq}', count: 5, profile: 'p', activatesOn: '2026-01-01', expiresOn: null })
      expect(await s.getBatch('wo1')).toMatchObject({ name: 'wo1', template: 'x{seq}', count: 5, profile: 'p', activatesOn: '2026-01-01', expiresOn: null })
      expect(await s.getBatch('none')).toBeUndefined()
      await expect(s.createBatch({ name: 'wo1' })).rejects.toMatchObject({ code: 'E_BATCH_EXISTS' })
      expect((await s.listBatches()).map((b) => b.name)).toEqual(['wo1'])
    })

    it('creates a work order header and its rows together, or neither', async () => {
      const s = await fresh()
      await s.insertMany([rec('taken-1')])
      // A duplicate row rolls the header back too.
      await expect(s.createBatchWithRows({ name: 'wo2' }, [rec('fresh-1', { batch: 'wo2', status: 'reserved' }), rec('taken-1', { batch: 'wo2' })])).rejects.toMatchObject({
        code: 'E_DUPLICATE_ENDPOINT',
        details: { duplicates: ['taken-1'] },
      })
      expect(await s.getBatch('wo2')).toBeUndefined()
      expect(await s.get('fresh-1')).toBeUndefined()
      await s.createBatchWithRows({ name: 'wo2', count: 2 }, [rec('fresh-1', { batch: 'wo2', status: 'reserved' }), rec('fresh-2', { batch: 'wo2', status: 'reserved' })])
      expect(await s.getBatch('wo2')).toMatchObject({ name: 'wo2', count: 2 })
      expect(await s.count({ batch: 'wo2' })).toBe(2)
      // A second creator of the same work order writes no rows.
      await expect(s.createBatchWithRows({ name: 'wo2' }, [rec('fresh-3', { batch: 'wo2' })])).rejects.toMatchObject({ code: 'E_BATCH_EXISTS' })
      expect(await s.get('fresh-3')).toBeUndefined()
    })

    it('migrate is idempotent', async () => {
      const s = await fresh()
      expect(await s.migrate()).toBe(await s.migrate())
    })
  })
}
