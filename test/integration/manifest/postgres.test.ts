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
