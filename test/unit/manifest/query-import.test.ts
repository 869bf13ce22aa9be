import { randomBytes } from 'node:crypto'
import { PassThrough } from 'node:stream'

import { describe, expect, it } from 'vitest'

import { exportManifest, streamTarget } from '../../../src/core/manifest/export/index.js'
import { parseImportRows, toImportRecords } from '../../../src/core/manifest/import.js'
import { buildFilter, parseDuration, parseSince, publicRecord } from '../../../src/core/manifest/query.js'
import { openSecrets, sealSecrets } from '../../../src/core/manifest/secrets.js'
import type { ManifestRecord, ManifestStore } from '../../../src/core/manifest/types.js'

describe('filter flags', () => {
  it('parses durations and --since', () => {
    expect(parseDuration('90d')).toBe(90 * 86400e3)
    expect(parseDuration('12h')).toBe(12 * 3600e3)
    expect(parseDuration('30')).toBe(30 * 86400e3)
    expect(() => parseDuration('soon')).toThrow(expect.objectContaining({ code: 'E_DURATION_INVALID' }))
    const now = new Date('2026-03-10T00:00:00Z')
    expect(parseSince('7d', now)).toBe('2026-03-03T00:00:00.000Z')
    expect(parseSince('2026-01-31', now)).toBe('2026-01-31T00:00:00.000Z')
    expect(() => parseSince('yesterday')).toThrow(expect.objectContaining({ code: 'E_DATE_INVALID' }))
  })

  it('builds filters; unknown statuses are usage errors', () => {
    expect(buildFilter({ batch: 'b', status: ['failed,verified'], developer: false, limit: 3 })).toEqual({ batch: 'b', status: ['failed', 'verified'], developer: false, limit: 3 })
    expect(buildFilter({})).toEqual({})
    expect(() => buildFilter({ status: ['done'] })).toThrow(expect.objectContaining({ code: 'E_STATUS_INVALID' }))
  })

  it('publicRecord drops the sealed blob', () => {
    const r = publicRecord({ endpoint: 'x', secret: Buffer.alloc(3) } as ManifestRecord)
    expect(r).toEqual({ endpoint: 'x', proof: 'none', hasSecret: true })
  })

  it('publicRecord shows the proof a row was verified with, and none when there is none', () => {
    expect(publicRecord({ endpoint: 'x', proof: 'pop-hmac' } as ManifestRecord).proof).toBe('pop-hmac')
    expect(publicRecord({ endpoint: 'x', proof: null } as ManifestRecord).proof).toBe('none')
  })
})

describe('import', () => {
  const key = randomBytes(32)
  const psk = randomBytes(16)
  const rec: ManifestRecord = {
    endpoint: 'imp-1',
    batch: 'b',
    mode: 'direct',
    security: 'psk',
    serverUri: 'coaps://s:5684',
    status: 'verified',
    pskIdentity: 'imp-1',
    readbackDigest: 'ab'.repeat(32),
    shortServerId: 7,
    developer: false,
    secret: sealSecrets(key, { psk }, 'imp-1'),
    proof: 'pop-hmac',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-02T00:00:00.000Z',
  }
  const store = {
    async *list() {
      yield rec
    },
    async count() {
      return 1
    },
  } as unknown as ManifestStore
  async function exported(format: string): Promise<string> {
    const s = new PassThrough()
    let out = ''
    s.on('data', (d) => (out += d))
    await exportManifest(store, format, { includeSecrets: true, masterKey: key }, streamTarget(s))
    return out
  }

  for (const [fmt, importAs] of [['csv', 'csv'], ['json', 'json'], ['ndjson', 'json']] as const) {
    it(`reads back a ${fmt} export, sealing the PSK again`, async () => {
      const rows = toImportRecords(parseImportRows(await exported(fmt), importAs), { masterKey: key })
      expect(rows).toHaveLength(1)
      const r = rows[0]!
      expect(r).toMatchObject({ endpoint: 'imp-1', batch: 'b', status: 'verified', provenance: 'imported', shortServerId: 7, readbackDigest: 'ab'.repeat(32), serverUri: 'coaps://s:5684', createdAt: '2026-01-01T00:00:00.000Z' })
      expect(openSecrets(key, r.secret!, 'imp-1').psk?.equals(psk)).toBe(true)
      // The export says how the row was proven; an import does not take the file's word for it.
      expect(await exported(fmt)).toContain('pop-hmac')
      expect(r.proof ?? null).toBeNull()
    })
  }

  it('needs the master key for secrets, and reports every bad row at once', async () => {
    const text = await exported('json')
    expect(() => toImportRecords(parseImportRows(text, 'json'), {})).toThrow(expect.objectContaining({ code: 'E_MASTER_KEY_MISSING' }))
    const bad = [{ endpoint: '' }, { endpoint: 'ok-1', security: 'quantum', server: 'coap://x' }, { endpoint: 'ok-2' }]
    const e = (() => {
      try {
        toImportRecords(bad, {})
      } catch (err) {
        return err as { code: string; details: { problems: string[] } }
      }
    })()
    expect(e?.code).toBe('E_IMPORT_INVALID')
    expect(e?.details.problems).toHaveLength(3)
    // A verified row needs a well-formed read-back digest; identity fields are checked like flags.
    const lying = [
      { endpoint: 'v-1', status: 'verified', server: 'coap://127.0.0.1:5683', security: 'nosec' },
      { endpoint: 'v-2', status: 'verified', server: 'coap://127.0.0.1:5683', security: 'nosec', readbackDigest: 'deadbeef' },
      { endpoint: 'v-3', status: 'injected', server: 'coap://127.0.0.1:5683', security: 'nosec', deviceId: 'EVIL\u001b[2J' },
    ]
    const l = (() => {
      try {
        toImportRecords(lying, {})
      } catch (err) {
        return err as { code: string; exitCode: number; details: { problems: string[] } }
      }
    })()
    expect(l).toMatchObject({ code: 'E_IMPORT_INVALID', exitCode: 2 })
    expect(l!.details.problems.join('\n')).toMatch(/v-1.*64 hex[\s\S]*v-2.*deadbeef[\s\S]*v-3.*deviceId/)
    expect(l!.details.problems.join('\n')).not.toContain('\u001b')
    const good = toImportRecords([{ ...lying[1]!, readbackDigest: 'AB'.repeat(32) }], {})
    expect(good[0]).toMatchObject({ status: 'verified', readbackDigest: 'ab'.repeat(32), provenance: 'imported' })
    expect(() => parseImportRows('a,b\n1,2\n', 'csv')).toThrow(expect.objectContaining({ code: 'E_IMPORT_FORMAT' }))
    expect(() => parseImportRows('{nope', 'json')).toThrow(expect.objectContaining({ code: 'E_IMPORT_FORMAT' }))
  })
})
