/**
 * The audit trail on both backends: every ledger write appends a chained entry in its own transaction, checkpoints
 * are signed, and `verifyAudit` catches rows edited, deleted or reordered with raw SQL, a chain recomputed after an
 * edit (the signatures no longer match), and a truncated tail. PostgreSQL: 8 concurrent writers, one unforked chain.
 */
import { randomBytes } from 'node:crypto'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { entryHash, publicKeyB64, signingKeyFromMasterKey, verifyAudit, type AuditContext } from '../../../src/core/manifest/audit.js'
import { openManifest } from '../../../src/core/manifest/open.js'
import type { PostgresManifestStore } from '../../../src/core/manifest/postgres.js'
import type { SqliteManifestStore } from '../../../src/core/manifest/sqlite.js'
import type { ManifestStore } from '../../../src/core/manifest/types.js'
import { tempDir } from '../../helpers/cli.js'
import { type PgCluster, startPgCluster } from '../../helpers/pg.js'
import { rec } from './store-contract.js'

const signingKey = signingKeyFromMasterKey(randomBytes(32))
const trusted = publicKeyB64(signingKey)
const ctx = (station: string): AuditContext => ({ station, operator: 'alice', signingKey })

/** Runs raw SQL with `?` placeholders on either backend. */
type Raw = (sql: string, params?: unknown[]) => Promise<void>

async function check(s: ManifestStore) {
  return verifyAudit(await s.listAudit(), await s.auditCheckpoints(), trusted, await s.signingPublicKey())
}

/** Five entries from ordinary writes: issued, injected, verified, policy changed, an explicit act. */
async function populate(s: ManifestStore): Promise<void> {
  s.setAuditContext(ctx('line-1'))
  await s.insertMany([rec('a-1'), rec('a-2'), rec('a-3')])
  await s.updateStatus('a-1', { status: 'injected', deviceId: 'SN1' })
  await s.updateStatus('a-1', { status: 'verified', readbackDigest: 'ab'.repeat(32) })
  await s.setPolicy({ minPskBytes: 16 })
  await s.appendAudit([{ action: 'ca.created', subject: 'CN=Root', details: { fingerprint: 'ff' } }])
}

function tamperSuite(name: string, fresh: () => Promise<{ s: ManifestStore; raw: Raw }>): void {
  describe(`${name}: audit trail`, () => {
    it('records one entry per act, chained and signed, and lists by endpoint and time', async () => {
      const { s } = await fresh()
      await populate(s)
      const entries = await s.listAudit()
      expect(entries.map((e) => e.action)).toEqual(['issued', 'injected', 'verified', 'policy.changed', 'ca.created'])
      expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5])
      expect(entries[0]!).toMatchObject({ station: 'line-1', operator: 'alice', subject: 'batch b1' })
      expect(JSON.parse(entries[0]!.details)).toMatchObject({ count: 3, endpoints: ['a-1', 'a-2', 'a-3'] })
      expect((await s.listAudit({ endpoint: 'a-1' })).map((e) => e.action)).toEqual(['issued', 'injected', 'verified'])
      expect((await s.listAudit({ endpoint: 'a-2' })).map((e) => e.action)).toEqual(['issued'])
      expect(await s.listAudit({ since: '2999-01-01T00:00:00Z' })).toEqual([])
      const v = await check(s)
      expect(v).toMatchObject({ ok: true, entries: 5, checkpoints: 5, signedThrough: 5 })
      expect(v.warnings).toEqual([])
      expect(await s.signingPublicKey()).toBe(trusted)
    })

    it('catches an entry edited by hand', async () => {
      const { s, raw } = await fresh()
      await populate(s)
      await raw("UPDATE audit_log SET subject = 'a-9' WHERE seq = 2")
      expect((await check(s)).broken).toEqual({ seq: 2, reason: expect.stringMatching(/altered/) })
    })

    it('catches an entry deleted by hand, in the middle and at the end', async () => {
      const { s, raw } = await fresh()
      await populate(s)
      await raw('DELETE FROM audit_log WHERE seq = 3')
      expect((await check(s)).broken).toEqual({ seq: 3, reason: expect.stringMatching(/missing|deleted/) })
      const b = await fresh()
      await populate(b.s)
      await b.raw('DELETE FROM audit_log WHERE seq = 5')
      expect((await check(b.s)).broken).toEqual({ seq: 5, reason: expect.stringMatching(/deleted/) })
    })

    it('catches entries reordered by hand', async () => {
      const { s, raw } = await fresh()
      await populate(s)
      await raw('UPDATE audit_log SET seq = 100 WHERE seq = 2')
      await raw('UPDATE audit_log SET seq = 2 WHERE seq = 3')
      await raw('UPDATE audit_log SET seq = 3 WHERE seq = 100')
      expect((await check(s)).broken?.seq).toBe(2)
    })

    it('catches a chain recomputed after an edit: the signed checkpoints no longer match', async () => {
      const { s, raw } = await fresh()
      await populate(s)
      await raw("UPDATE audit_log SET subject = 'CN=Evil' WHERE seq = 5")
      // recompute entry 5's hash as a forger without the signing key would
      const e = (await s.listAudit()).find((x) => x.seq === 5)!
      await raw('UPDATE audit_log SET hash = ? WHERE seq = 5', [entryHash(e)])
      expect((await check(s)).broken).toEqual({ seq: 5, reason: expect.stringMatching(/differs from what was signed/) })
    })
  })
}

const dir = tempDir('lwprov-audit-')
let n = 0
const opened: ManifestStore[] = []

tamperSuite('sqlite', async () => {
  const s = (await openManifest(`${dir}/m${n++}.db`)) as SqliteManifestStore
  opened.push(s)
  return { s, raw: async (sql, params = []) => void s.db.prepare(sql).run(...params) }
})

let cluster: PgCluster
beforeAll(() => {
  cluster = startPgCluster()
})
afterAll(async () => {
  for (const s of opened.splice(0)) await s.close()
  cluster?.stop()
})

const pgRaw = (s: PostgresManifestStore): Raw => async (sql, params = []) => {
  let i = 0
  await s.pool.query(sql.replace(/\?/g, () => `$${++i}`), params)
}

tamperSuite('postgres', async () => {
  const s = (await openManifest(cluster.createDatabase(`a${n++}`))) as PostgresManifestStore
  opened.push(s)
  return { s, raw: pgRaw(s) }
})

describe('postgres: concurrent stations', () => {
  it('8 writers appending at once leave one chain without forks or gaps', async () => {
    const url = cluster.createDatabase('writers')
    const stores = await Promise.all(Array.from({ length: 8 }, () => openManifest(url)))
    opened.push(...stores)
    await Promise.all(
      stores.map(async (s, w) => {
        s.setAuditContext(ctx(`station-${w}`))
        for (let i = 0; i < 15; i++) {
          if (i % 3 === 0) await s.insertMany([rec(`w${w}-${i}`)])
          else await s.appendAudit([{ action: 'test', subject: `w${w}-${i}` }])
        }
      }),
    )
    const entries = await stores[0]!.listAudit()
    expect(entries).toHaveLength(120)
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1))
    expect(new Set(entries.map((e) => e.prevHash)).size).toBe(120)
    const v = await check(stores[0]!)
    expect(v).toMatchObject({ ok: true, entries: 120, signedThrough: 120 })
  })
})
