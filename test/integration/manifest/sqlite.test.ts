import { mkdtempSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'

import { openManifest } from '../../../src/core/manifest/open.js'
import { SQLITE_MIGRATIONS, SQLITE_SCHEMA_VERSION } from '../../../src/core/manifest/sqlite.js'
import type { ManifestStore } from '../../../src/core/manifest/types.js'
import { storeContract } from './store-contract.js'

const dir = mkdtempSync(join(tmpdir(), 'lwprov-sqlite-'))
let n = 0
const open: ManifestStore[] = []
async function fresh(): Promise<ManifestStore> {
  const s = await openManifest(join(dir, `m${n++}.db`))
  open.push(s)
  return s
}
afterEach(async () => {
  for (const s of open.splice(0)) await s.close()
})

storeContract('sqlite', fresh)

describe('sqlite manifest file', () => {
  it('creates the parent directory and a 0600 file in WAL mode with a schema version', async () => {
    const p = join(dir, 'sub', 'deep', 'x.db')
    const s = await openManifest(p)
    open.push(s)
    expect(statSync(p).mode & 0o777).toBe(0o600)
    expect(await s.migrate()).toBe(SQLITE_SCHEMA_VERSION)
    const db = new Database(p, { readonly: true })
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    expect((db.prepare('SELECT MAX(version) v FROM schema_version').get() as { v: number }).v).toBe(SQLITE_SCHEMA_VERSION)
    db.close()
  })

  it('reports a file that is not a database as E_NOT_A_MANIFEST, a directory as unreadable', async () => {
    const p = join(dir, 'junk.db')
    writeFileSync(p, 'this is not sqlite '.repeat(100))
    await expect(openManifest(p)).rejects.toMatchObject({ code: 'E_NOT_A_MANIFEST', exitCode: 2 })
    await expect(openManifest(dir)).rejects.toMatchObject({ code: 'E_MANIFEST_UNREADABLE' })
  })

  it('refuses a schema newer than this lwprov (E_MANIFEST_SCHEMA)', async () => {
    const p = join(dir, 'newer.db')
    ;(await openManifest(p)).close()
    const db = new Database(p)
    db.prepare('INSERT INTO schema_version VALUES (99, ?)').run(new Date().toISOString())
    db.close()
    await expect(openManifest(p)).rejects.toMatchObject({ code: 'E_MANIFEST_SCHEMA' })
  })

  it('migration 4 (proof) on a version 3 file: verified rows get the weaker digest proof, imported ones none', async () => {
    const p = join(dir, 'v3.db')
    const db = new Database(p)
    db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL)')
    for (let v = 1; v <= 3; v++) {
      db.exec(SQLITE_MIGRATIONS[v - 1]!)
      db.prepare('INSERT INTO schema_version VALUES (?, ?)').run(v, new Date().toISOString())
    }
    const ins = db.prepare(
      "INSERT INTO endpoints (endpoint, batch, mode, security, server_uri, status, readback_digest, provenance, created_at, updated_at) VALUES (?, 'b', 'direct', 'psk', 'coaps://x', ?, ?, ?, 't', 't')",
    )
    ins.run('old-verified', 'verified', 'ab'.repeat(32), null)
    ins.run('old-imported', 'verified', 'cd'.repeat(32), 'imported')
    ins.run('old-generated', 'generated', null, null)
    db.close()
    const s = await openManifest(p)
    open.push(s)
    expect(SQLITE_SCHEMA_VERSION).toBeGreaterThanOrEqual(4) // later migrations (5: audit) apply on top
    expect((await s.get('old-verified'))!.proof).toBe('digest')
    expect((await s.get('old-imported'))!.proof ?? null).toBeNull()
    expect((await s.get('old-generated'))!.proof ?? null).toBeNull()
  })

  it('without migrate, a missing file is an error and nothing is created', async () => {
    await expect(openManifest(join(dir, 'nope.db'), { migrate: false })).rejects.toMatchObject({ code: 'E_MANIFEST_UNREADABLE' })
  })
})
