/**
 * Export failure paths in core: the master key checked before anything is written, `--out` failures as
 * `E_EXPORT_WRITE`, temporary files (plaintext secrets) removed on failure and by `removeExportTemps()`, and a
 * closed output stream stopping the export early.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'

import { describe, expect, it } from 'vitest'

import { exportManifest, fileTarget, OutputClosedError, removeExportTemps, streamTarget } from '../../../src/core/manifest/export/index.js'
import { openManifest } from '../../../src/core/manifest/open.js'
import { sealSecrets } from '../../../src/core/manifest/secrets.js'
import type { ManifestRecord, ManifestStore } from '../../../src/core/manifest/types.js'

const key = randomBytes(32)
const now = '2026-03-01T00:00:00.000Z'

function row(endpoint: string, extra: Partial<ManifestRecord> = {}): ManifestRecord {
  return {
    endpoint,
    batch: 'b',
    mode: 'direct',
    security: 'psk',
    serverUri: 'coaps://lwm2m.example.com:5684',
    status: 'generated',
    pskIdentity: endpoint,
    developer: false,
    secret: sealSecrets(key, { psk: randomBytes(16) }, endpoint),
    createdAt: now,
    updatedAt: now,
    ...extra,
  }
}

/**
 * A store over `rows`; `gate` (if given) is awaited before row `at` is yielded, in the `onList`-th listing only (default
 * every listing); `read` counts rows handed out.
 */
function fakeStore(rows: ManifestRecord[], opts: { gate?: Promise<void>; at?: number; onList?: number } = {}): ManifestStore & { read: number } {
  let listings = 0
  const s = {
    read: 0,
    async *list() {
      const listing = ++listings
      for (let i = 0; i < rows.length; i++) {
        if (opts.gate && i === opts.at && (opts.onList === undefined || opts.onList === listing)) await opts.gate
        s.read++
        yield rows[i]!
      }
    },
    async count() {
      return rows.length
    },
  }
  return s as unknown as ManifestStore & { read: number }
}

const tmp = () => mkdtempSync(join(tmpdir(), 'lwprov-export-fail-'))

describe('export failure paths', () => {
  it('a wrong master key fails before the target is opened', async () => {
    const s = new PassThrough()
    let written = ''
    s.on('data', (c) => (written += c))
    const rows = [row('n1', { security: 'nosec', secret: null, pskIdentity: null }), row('p1'), row('p2')]
    await expect(exportManifest(fakeStore(rows), 'json', { includeSecrets: true, masterKey: randomBytes(32) }, streamTarget(s))).rejects.toMatchObject({ code: 'E_SECRET_UNSEALABLE' })
    expect(written).toBe('')
    const dir = tmp()
    await expect(exportManifest(fakeStore(rows), 'csv', { includeSecrets: true, masterKey: randomBytes(32) }, fileTarget(join(dir, 'x.csv')))).rejects.toMatchObject({ code: 'E_SECRET_UNSEALABLE' })
    expect(readdirSync(dir)).toEqual([])
  })

  it('--out under a file, or a pem directory that is a file, is E_EXPORT_WRITE naming path and errno', async () => {
    const dir = tmp()
    const file = join(dir, 'f')
    writeFileSync(file, 'x')
    const rows = [row('p1')]
    for (const [format, out] of [
      ['csv', join(file, 'x.csv')],
      ['csv', join(file, 'sub', 'x.csv')],
    ] as const) {
      const e = await exportManifest(fakeStore(rows), format, {}, fileTarget(out)).catch((x: unknown) => x)
      expect(e).toMatchObject({ code: 'E_EXPORT_WRITE', exitCode: 2, details: { errno: expect.stringMatching(/^E(NOTDIR|EXIST)$/) } })
      expect((e as Error).message).toContain(out)
    }
    const cert = row('c1', { security: 'cert', certificatePem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' })
    const pem = await exportManifest(fakeStore([cert]), 'pem', {}, fileTarget(file)).catch((x: unknown) => x)
    expect(pem).toMatchObject({ code: 'E_EXPORT_WRITE', details: { path: file } })
  })

  it('a digest that cannot be written is E_EXPORT_WRITE', async () => {
    const dir = tmp()
    mkdirSync(join(dir, 'x.csv.sha256'))
    await expect(exportManifest(fakeStore([row('p1')]), 'csv', {}, fileTarget(join(dir, 'x.csv'), { digest: true }))).rejects.toMatchObject({
      code: 'E_EXPORT_WRITE',
      details: { path: join(dir, 'x.csv.sha256'), errno: 'EISDIR' },
    })
    expect(readdirSync(dir).filter((f) => f.includes('lwprov-tmp'))).toEqual([])
  })

  it('removeExportTemps() removes the temporary file of an export in progress', async () => {
    const dir = tmp()
    let open!: () => void
    const gate = new Promise<void>((res) => (open = res))
    // listings: the up-front master-key check (row 0), the dry run (both rows), then the export, gated at row 1
    const store = fakeStore([row('p1'), row('p2')], { gate, at: 1, onList: 3 })
    const done = exportManifest(store, 'csv', { includeSecrets: true, masterKey: key }, fileTarget(join(dir, 'x.csv')))
    while (store.read < 4) await new Promise((r) => setTimeout(r, 5))
    const temps = readdirSync(dir)
    expect(temps).toHaveLength(1)
    expect(temps[0]).toMatch(new RegExp(`^\\.x\\.csv\\.lwprov-tmp-${process.pid}-[0-9a-f]{8}$`))
    expect(removeExportTemps()).toEqual([join(dir, temps[0]!)])
    expect(readdirSync(dir)).toEqual([])
    open()
    await done.catch(() => undefined)
    expect(readdirSync(dir).filter((f) => f.includes('lwprov-tmp'))).toEqual([])
  })

  it('a failure in a directory export leaves no temporary file', async () => {
    const dir = tmp()
    const certPem = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'
    // the second file's name is taken by a directory: the export fails after the first file was written
    mkdirSync(join(dir, 'certs', 'c2.pem'), { recursive: true })
    writeFileSync(join(dir, 'certs', 'c2.pem', 'keep'), 'x')
    const rows = [row('c1', { security: 'cert', certificatePem: certPem }), row('c2', { security: 'cert', certificatePem: certPem })]
    await expect(exportManifest(fakeStore(rows), 'pem', {}, fileTarget(join(dir, 'certs')))).rejects.toMatchObject({ code: 'E_EXPORT_WRITE' })
    // all or nothing: c1.pem, written by this run, goes too; what was there before stays
    expect(readdirSync(join(dir, 'certs')).sort()).toEqual(['c2.pem'])
    expect(readdirSync(join(dir, 'certs', 'c2.pem'))).toEqual(['keep'])
  })

  it('a row that cannot be exported fails before the first byte on a stream and before any chunk file exists', async () => {
    // 150 PSK rows, the 120th sealed for another endpoint: coiote writes 100 devices a file, so that row is in part 2.
    const rows = Array.from({ length: 150 }, (_, i) => row(`p${String(i).padStart(3, '0')}`))
    rows[119] = { ...rows[119]!, secret: rows[0]!.secret }
    const s = new PassThrough()
    let written = ''
    s.on('data', (c) => (written += c))
    await expect(exportManifest(fakeStore(rows), 'coiote', { includeSecrets: true, masterKey: key }, streamTarget(s))).rejects.toMatchObject({ code: 'E_SECRET_UNSEALABLE' })
    expect(written).toBe('')
    const dir = tmp()
    let opened = 0
    const files = fileTarget(join(dir, 'coiote.json'), { secret: true })
    const watched = { ...files, files: files.files, open: async (o: Parameters<typeof files.open>[0]) => (opened++, files.open(o)) }
    await expect(exportManifest(fakeStore(rows), 'coiote', { includeSecrets: true, masterKey: key }, watched)).rejects.toMatchObject({ code: 'E_SECRET_UNSEALABLE' })
    expect(opened).toBe(0)
    expect(readdirSync(dir)).toEqual([])
    // Without the bad row, the same export writes its two chunks.
    rows[119] = row('p119')
    const ok = await exportManifest(fakeStore(rows), 'coiote', { includeSecrets: true, masterKey: key }, fileTarget(join(dir, 'coiote.json'), { secret: true }))
    expect(ok.files.map((f) => f.slice(dir.length + 1))).toEqual(['coiote-001.json', 'coiote-002.json'])
  })

  it('a destroyed output stream stops the export at the next row', async () => {
    const s = new PassThrough()
    s.destroy()
    const rows = Array.from({ length: 5000 }, (_, i) => row(`p${i}`, { secret: null }))
    const store = fakeStore(rows)
    await expect(exportManifest(store, 'csv', {}, streamTarget(s))).rejects.toBeInstanceOf(OutputClosedError)
    expect(store.read).toBeLessThan(5)
  })

  it('openManifest({create: false}) refuses a missing SQLite file and creates nothing; an existing one opens', async () => {
    const dir = tmp()
    const p = join(dir, 'typo.db')
    await expect(openManifest(p, { create: false })).rejects.toMatchObject({ code: 'E_MANIFEST_NOT_FOUND', exitCode: 2 })
    expect(readdirSync(dir)).toEqual([])
    await (await openManifest(p)).close()
    const s = await openManifest(p, { create: false })
    expect(await s.count()).toBe(0)
    await s.close()
  })
})
