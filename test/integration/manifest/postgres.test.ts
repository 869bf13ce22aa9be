import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { openManifest } from '../../../src/core/manifest/open.js'
import { PG_SCHEMA_VERSION } from '../../../src/core/manifest/postgres.js'
import type { ManifestStore } from '../../../src/core/manifest/types.js'
import { type PgCluster, startPgCluster } from '../../helpers/pg.js'
import { storeContract } from './store-contract.js'

let cluster: PgCluster
const open: ManifestStore[] = []
let n = 0

beforeAll(() => {
  cluster = startPgCluster()
})
afterAll(async () => {
  for (const s of open.splice(0)) await s.close()
  cluster?.stop()
})

async function fresh(): Promise<ManifestStore> {
  const s = await openManifest(cluster.createDatabase(`t${n++}`))
  open.push(s)
  return s
}

storeContract('postgres', fresh)

describe('postgres manifest', () => {
  it('connects through a libpq service entry (PGSERVICE), the URL holding no address or password', async () => {
    const url = new URL(cluster.createDatabase('svc'))
    const dir = mkdtempSync(join(tmpdir(), 'lwprov-pgsvc-'))
    const file = join(dir, 'pg_service.conf')
    writeFileSync(file, `[line3]\nhost=${url.hostname}\nport=${url.port}\ndbname=${url.pathname.slice(1)}\nuser=${url.username}\n`)
    const saved = { f: process.env.PGSERVICEFILE, s: process.env.PGSERVICE }
    process.env.PGSERVICEFILE = file
    process.env.PGSERVICE = 'line3'
    try {
      const s = await openManifest('postgres://')
      open.push(s)
      expect((await s.info()).namespace).toMatch(/^[0-9a-f]{32}$/)
    } finally {
      for (const [k, v] of [['PGSERVICEFILE', saved.f], ['PGSERVICE', saved.s]] as const) {
        if (v === undefined) delete process.env[k]
        else process.env[k] = v
      }
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('reports a refused connection as E_MANIFEST_CONNECT without the password', async () => {
    const err = await openManifest('postgres://lw:s3cretpw@127.0.0.1:1/x').catch((e) => e)
    expect(err).toMatchObject({ code: 'E_MANIFEST_CONNECT', exitCode: 5 })
    expect(err.message).toContain('connection refused')
    expect(JSON.stringify(err.toJSON())).not.toContain('s3cretpw')
  })

  it('migrates concurrently opened stores once, records the schema version', async () => {
    const url = cluster.createDatabase('conc')
    const stores = await Promise.all(Array.from({ length: 4 }, () => openManifest(url)))
    open.push(...stores)
    expect(await stores[0]!.migrate()).toBe(PG_SCHEMA_VERSION)
    expect(stores[0]!.location).toBe(url)
  })

  it('refuses a newer schema', async () => {
    const url = cluster.createDatabase('newer')
    const s = (await openManifest(url)) as unknown as { pool: { query(q: string): Promise<unknown> }; close(): Promise<void> }
    await s.pool.query("INSERT INTO schema_version VALUES (42, 'x')")
    await s.close()
    await expect(openManifest(url)).rejects.toMatchObject({ code: 'E_MANIFEST_SCHEMA' })
  })
})
