/**
 * Work orders end to end: reserved names, claim codes shown once and stored only hashed, the label CSV (0600),
 * status/list, all-or-nothing creation, and a station refused outside the activation window.
 */
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'

import type { ManifestRecord, ManifestStore } from '../../src/core/manifest/types.js'
import { isValidClaimCode, verifyClaimCode } from '../../src/core/station/claim-code.js'
import { runCli, tempDir } from '../helpers/cli.js'

const dir = tempDir('lwprov-e2e-batch-')
const db = join(dir, 'm.db')
const env = { LWPROV_MASTER_KEY: randomBytes(32).toString('hex') }

async function rows(batch: string): Promise<ManifestRecord[]> {
  const { openManifest } = (await import('../../src/core/manifest/open.js')) as { openManifest: (l: string) => Promise<ManifestStore> }
  const store = await openManifest(db)
  const out: ManifestRecord[] = []
  for await (const r of store.list({ batch })) out.push(r)
  await store.close()
  return out
}

describe('batch (e2e)', () => {
  it('reserves names with claim codes shown once and stored only as hashes', async () => {
    const labels = join(dir, 'labels.csv')
    const r = await runCli(
      ['batch', 'create', '--name', 'WO-1234', '--count', '5', '--endpoint', 'urn:dev:os:320973-WO{seq:04}', '--claim-codes', '--labels', labels, '--manifest', db, '--json'],
      { env },
    )
    expect(r.code, r.stderr).toBe(0)
    const res = r.json.result
    expect(res.endpoints).toEqual([1, 2, 3, 4, 5].map((n) => `urn:dev:os:320973-WO000${n}`))
    expect(res.claimCodes).toHaveLength(5)
    for (const c of res.claimCodes) expect(isValidClaimCode(c.claimCode)).toBe(true)
    expect(statSync(labels).mode & 0o777).toBe(0o600)
    const csv = readFileSync(labels, 'utf8')
    expect(csv.split('\n')[0]).toBe('batch,endpoint,seq,claim_code')
    for (const c of res.claimCodes) expect(csv).toContain(`WO-1234,${c.endpoint},`)

    const stored = await rows('WO-1234')
    expect(stored.every((x) => x.status === 'reserved')).toBe(true)
    for (const c of res.claimCodes) {
      const row = stored.find((x) => x.endpoint === c.endpoint)!
      expect(verifyClaimCode(c.claimCode, row.claimHash!)).toBe(true)
      expect(JSON.stringify(row)).not.toContain(c.claimCode.replace(/-/g, ''))
    }
  })

  it('shows status and list, and refuses a second work order of the same name', async () => {
    const s = await runCli(['batch', 'status', 'WO-1234', '--manifest', db, '--json'], { env })
    expect(s.code, s.stderr).toBe(0)
    expect(s.json.result).toMatchObject({ name: 'WO-1234', state: 'active', total: 5, remaining: 5, counts: { reserved: 5, verified: 0 } })
    const human = await runCli(['batch', 'status', 'WO-1234', '--manifest', db], { env })
    expect(human.stdout).toMatch(/remaining\s+5/)
    const l = await runCli(['batch', 'list', '--manifest', db, '--json'], { env })
    expect(l.json.result.batches.map((b: { name: string }) => b.name)).toContain('WO-1234')
    const dup = await runCli(['batch', 'create', '--name', 'WO-1234', '--count', '1', '--endpoint', 'x{seq}', '--manifest', db, '--json'], { env })
    expect(dup.code).toBe(3)
    expect(dup.json.error.code).toBe('E_BATCH_EXISTS')
    const missing = await runCli(['batch', 'status', 'WO-NOPE', '--manifest', db, '--json'], { env })
    expect(missing.json.error.code).toBe('E_BATCH_NOT_FOUND')
  })

  it('is all-or-nothing when a name already exists', async () => {
    const r = await runCli(['batch', 'create', '--name', 'WO-CLASH', '--count', '3', '--endpoint', 'urn:dev:os:320973-WO{seq:04}', '--start', '4', '--manifest', db, '--json'], { env })
    expect(r.code).toBe(3)
    expect(r.json.error.code).toBe('E_DUPLICATE_ENDPOINT')
    expect(await rows('WO-CLASH')).toHaveLength(0)
    const l = await runCli(['batch', 'list', '--manifest', db, '--json'], { env })
    expect(l.json.result.batches.map((b: { name: string }) => b.name)).not.toContain('WO-CLASH')
  })

  it('takes the endpoint template and credential intent from a station profile, flags first', async () => {
    const profile = join(dir, 'line3.yaml')
    writeFileSync(profile, 'endpoint: urn:dev:os:320973-PR{seq:04}\ncredentials:\n  mode: direct\n  security: psk\n  server: coaps://lwm2m.example.com:5684\n')
    const r = await runCli(['batch', 'create', '--name', 'WO-PROF', '--count', '2', '--profile', profile, '--security', 'cert', '--manifest', db, '--json'], { env })
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.result.endpoints).toEqual(['urn:dev:os:320973-PR0001', 'urn:dev:os:320973-PR0002'])
    const stored = await rows('WO-PROF')
    expect(stored[0]).toMatchObject({ mode: 'direct', security: 'cert', serverUri: 'coaps://lwm2m.example.com:5684', status: 'reserved' })
    const bad = await runCli(['batch', 'create', '--name', 'WO-X', '--count', '1', '--manifest', db, '--json'], { env })
    expect(bad.code).toBe(2)
    expect(bad.json.error.details.missing).toEqual(['--endpoint'])
  })

  it('refuses a station outside the activation window', async () => {
    const c = await runCli(['batch', 'create', '--name', 'WO-LATER', '--count', '2', '--endpoint', 'urn:dev:os:320973-LT{seq:04}', '--activates-on', '2099-01-01', '--manifest', db], { env })
    expect(c.code, c.stderr).toBe(0)
    const st = await runCli(
      ['station', '--ports', '/dev/null', '--protocol', 'lwprov', '--batch', 'WO-LATER', '--mode', 'direct', '--security', 'psk', '--server', 'coaps://lwm2m.example.com:5684', '--manifest', db, '--json'],
      { env },
    )
    expect(st.code).toBe(3)
    expect(st.json.error.code).toBe('E_BATCH_NOT_ACTIVE')
    // A window that already ended is refused at creation; one that ends later expires with time (simulated here).
    const past = await runCli(['batch', 'create', '--name', 'WO-OLD', '--count', '1', '--endpoint', 'old{seq}', '--expires-on', '2020-01-01', '--manifest', db, '--json'], { env })
    expect(past.code).toBe(2)
    expect(past.json.error.code).toBe('E_WINDOW_PAST')
    const e = await runCli(['batch', 'create', '--name', 'WO-OLD', '--count', '1', '--endpoint', 'old{seq}', '--expires-on', '2099-01-01', '--manifest', db], { env })
    expect(e.code, e.stderr).toBe(0)
    const sql = new Database(db)
    sql.prepare("UPDATE batches SET expires_on = '2020-01-01T00:00:00.000Z' WHERE name = 'WO-OLD'").run()
    sql.close()
    const st2 = await runCli(
      ['station', '--ports', '/dev/null', '--protocol', 'lwprov', '--batch', 'WO-OLD', '--mode', 'direct', '--security', 'psk', '--server', 'coaps://lwm2m.example.com:5684', '--manifest', db, '--json'],
      { env },
    )
    expect(st2.json.error.code).toBe('E_BATCH_EXPIRED')
  })

  it('refuses an unwritable --labels path before anything is recorded, then the same name works', async () => {
    const notDir = join(dir, 'plain-file')
    writeFileSync(notDir, 'x')
    const args = ['batch', 'create', '--name', 'WO-LBL', '--count', '2', '--endpoint', 'urn:dev:os:320973-LB{seq:04}', '--claim-codes', '--manifest', db, '--json']
    const bad = await runCli([...args, '--labels', join(notDir, 'x.csv')], { env })
    expect(bad.code, bad.stderr).toBe(2)
    expect(bad.json.error).toMatchObject({ code: 'E_OUTPUT_WRITE', details: { errno: 'ENOTDIR' } })
    expect(await rows('WO-LBL')).toHaveLength(0)
    const l = await runCli(['batch', 'list', '--manifest', db, '--json'], { env })
    expect(l.json.result.batches.map((b: { name: string }) => b.name)).not.toContain('WO-LBL')

    // An existing file is not replaced without --force (nothing recorded); with it, replaced and made 0600.
    const labels = join(dir, 'wo-lbl.csv')
    writeFileSync(labels, 'old contents that are longer than nothing\n'.repeat(50))
    chmodSync(labels, 0o644)
    const exists = await runCli([...args, '--labels', labels], { env })
    expect([exists.code, exists.json.error.code]).toEqual([2, 'E_OUTPUT_EXISTS'])
    expect(await rows('WO-LBL')).toHaveLength(0)
    const ok = await runCli([...args, '--labels', labels, '--force'], { env })
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.json.result.endpoints).toEqual(['urn:dev:os:320973-LB0001', 'urn:dev:os:320973-LB0002'])
    expect(statSync(labels).mode & 0o777).toBe(0o600)
    const csv = readFileSync(labels, 'utf8')
    expect(csv).not.toContain('old contents')
    expect(csv.trim().split('\n')).toHaveLength(3)

    // A failed rerun (name taken) leaves the earlier sheet intact and creates no new file.
    const again = await runCli([...args, '--labels', labels, '--force'], { env })
    expect(again.json.error.code).toBe('E_BATCH_EXISTS')
    expect(readFileSync(labels, 'utf8')).toBe(csv)
    const fresh = join(dir, 'never.csv')
    await runCli([...args, '--labels', fresh], { env })
    expect(existsSync(fresh)).toBe(false)
  })
})
