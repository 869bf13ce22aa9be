import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'

import { beforeAll, describe, expect, it } from 'vitest'

import { exportManifest, fileTarget, parseCsv, streamTarget } from '../../../src/core/manifest/export/index.js'
import { sealSecrets } from '../../../src/core/manifest/secrets.js'
import type { ManifestFilter, ManifestRecord, ManifestStore } from '../../../src/core/manifest/types.js'
import { createCa } from '../../../src/core/pki/index.js'
import { pemBlocks } from '../../../src/core/pki/util.js'

const key = randomBytes(32)
const now = '2026-03-01T00:00:00.000Z'

/** Only what exportManifest uses: list + count, with the batch filter. */
function fakeStore(rows: ManifestRecord[]): ManifestStore {
  const match = (r: ManifestRecord, f?: ManifestFilter) => (f?.batch === undefined || r.batch === f.batch) && (f?.developer === undefined || r.developer === f.developer)
  return {
    async *list(f?: ManifestFilter) {
      for (const r of rows) if (match(r, f)) yield r
    },
    async count(f?: ManifestFilter) {
      return rows.filter((r) => match(r, f)).length
    },
  } as unknown as ManifestStore
}

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
    shortServerId: 101,
    lifetime: 300,
    binding: 'U',
    createdAt: now,
    updatedAt: now,
    ...extra,
  }
}

const psks = new Map<string, Buffer>()
function pskRow(ep: string, extra: Partial<ManifestRecord> = {}): ManifestRecord {
  const psk = randomBytes(16)
  psks.set(ep, psk)
  return row(ep, { secret: sealSecrets(key, { psk }, ep), ...extra })
}

let certPem: string
let certDer: Buffer
let pkDer: Buffer
function certRow(ep: string, extra: Partial<ManifestRecord> = {}): ManifestRecord {
  return row(ep, { security: 'cert', mode: 'bootstrap', pskIdentity: null, certificatePem: certPem, fingerprint: createHash('sha256').update(certDer).digest('hex'), serial: '01', secret: sealSecrets(key, { privateKeyDer: pkDer }, ep), shortServerId: null, lifetime: null, binding: null, ...extra })
}

beforeAll(async () => {
  const ca = await createCa({ name: 'Export Test', keyType: 'ec-p256', days: 30 })
  certPem = ca.certPem
  certDer = pemBlocks(certPem)[0]!.der
  pkDer = ca.keyPkcs8Der
})

async function run(rows: ManifestRecord[], format: string, opts: Parameters<typeof exportManifest>[2] = {}): Promise<string> {
  const s = new PassThrough()
  const chunks: Buffer[] = []
  s.on('data', (c) => chunks.push(c))
  await exportManifest(fakeStore(rows), format, opts, streamTarget(s))
  return Buffer.concat(chunks).toString('utf8')
}

const secretOpts = { includeSecrets: true, masterKey: key }

describe('csv / json / ndjson', () => {
  it('json is an array of documented rows; secrets only on request', async () => {
    const rows = [pskRow('p1'), certRow('c1')]
    const plain = JSON.parse(await run(rows, 'json'))
    expect(plain).toHaveLength(2)
    expect(plain[0]).toMatchObject({ endpoint: 'p1', status: 'generated', security: 'psk', mode: 'direct', server: 'coaps://lwm2m.example.com:5684', pskIdentity: 'p1', batch: 'b', deviceId: null, updatedAt: now })
    expect(plain[1]).toMatchObject({ certificate: certPem, fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/), serial: '01' })
    expect(JSON.stringify(plain)).not.toContain(psks.get('p1')!.toString('hex'))
    expect(plain[0].pskKeyHex).toBeUndefined()
    const sec = JSON.parse(await run(rows, 'json', secretOpts))
    expect(sec[0].pskKeyHex).toBe(psks.get('p1')!.toString('hex'))
    expect(pemBlocks(sec[1].privateKeyPem)[0]!.der.equals(pkDer)).toBe(true)
    expect(JSON.parse(await run([], 'json'))).toEqual([])
  })

  it('--include-secrets without the key is refused', async () => {
    await expect(run([pskRow('p1')], 'json', { includeSecrets: true })).rejects.toMatchObject({ code: 'E_MASTER_KEY_MISSING' })
  })

  it('ndjson: one row a line', async () => {
    const out = await run([pskRow('p1'), pskRow('p2')], 'ndjson')
    expect(out.trimEnd().split('\n').map((l) => JSON.parse(l).endpoint)).toEqual(['p1', 'p2'])
  })

  it('csv: header, quoted multi-line PEM, parses back', async () => {
    const out = await run([pskRow('p,1'), certRow('c1')], 'csv', secretOpts)
    const t = parseCsv(out)
    expect(t[0]!.slice(0, 5)).toEqual(['endpoint', 'status', 'security', 'mode', 'server'])
    expect(t).toHaveLength(3)
    const obj = (r: string[]) => Object.fromEntries(t[0]!.map((h, i) => [h, r[i]]))
    expect(obj(t[1]!)).toMatchObject({ endpoint: 'p,1', pskKeyHex: psks.get('p,1')!.toString('hex') })
    expect(obj(t[2]!).certificate).toBe(certPem)
  })
})

describe('the manifest identity', () => {
  it('is carried by every row of csv/json/ndjson, the wakaama ini header and the result', async () => {
    const manifest = { namespace: '0123456789abcdef0123456789abcdef', name: 'line\n3' }
    const rows = [pskRow('p1'), pskRow('p2')]
    expect(JSON.parse(await run(rows, 'json', { manifest })).map((r: { manifest: string }) => r.manifest)).toEqual([manifest.namespace, manifest.namespace])
    expect((await run(rows, 'ndjson', { manifest })).trimEnd().split('\n').map((l) => JSON.parse(l).manifest)).toEqual([manifest.namespace, manifest.namespace])
    const t = parseCsv(await run(rows, 'csv', { manifest }))
    const col = t[0]!.indexOf('manifest')
    expect(t.slice(1).map((r) => r[col])).toEqual([manifest.namespace, manifest.namespace])
    const ini = await run(rows, 'wakaama-bootstrap-ini', { ...secretOpts, manifest })
    // the name's line break cannot end the comment and start a section of its own
    expect(ini.split('\n')[1]).toBe(`# manifest ${manifest.namespace} (line 3)`)
    const r = await exportManifest(fakeStore(rows), 'json', { manifest }, streamTarget(new PassThrough().resume()))
    expect(r.manifest).toBe(manifest.namespace)
  })
})

describe('server formats', () => {
  it('izuma-enrollment: header then A- + colon SHA-256 of the certificate DER, certificate rows only', async () => {
    const out = await run([pskRow('p1'), certRow('c1'), certRow('c2')], 'izuma-enrollment')
    const lines = out.trimEnd().split('\n')
    expect(lines[0]).toBe('"enrollment_identity"')
    const want = `A-${createHash('sha256').update(certDer).digest('hex').toUpperCase().match(/../g)!.join(':')}`
    expect(lines.slice(1)).toEqual([want, want])
    expect(want).toHaveLength(2 + 95)
  })

  it('leshan-security: psk with hex key, x509 without details, nosec left out', async () => {
    const out = JSON.parse(await run([pskRow('p1'), certRow('c1'), row('n1', { security: 'nosec', pskIdentity: null })], 'leshan-security', secretOpts))
    expect(out).toEqual([
      { endpoint: 'p1', tls: { mode: 'psk', details: { identity: 'p1', key: psks.get('p1')!.toString('hex') } } },
      { endpoint: 'c1', tls: { mode: 'x509' } },
    ])
    await expect(run([pskRow('p1')], 'leshan-security')).rejects.toMatchObject({ code: 'E_SECRETS_REQUIRED' })
  })

  it('leshan-bootstrap: endpoint-keyed BootstrapConfig with signed byte arrays', async () => {
    const out = JSON.parse(await run([pskRow('ep-0001'), certRow('c1')], 'leshan-bootstrap', secretOpts))
    const p = out['ep-0001']
    expect(p.toDelete).toEqual(['/0', '/1'])
    expect(p.servers['0']).toMatchObject({ shortId: 101, lifetime: 300, binding: ['U'], notifIfDisabled: true })
    expect(p.security['1']).toMatchObject({ uri: 'coaps://lwm2m.example.com:5684', bootstrapServer: false, securityMode: 'PSK', publicKeyOrId: [101, 112, 45, 48, 48, 48, 49], serverPublicKey: [], serverId: 101 })
    expect(Buffer.from(p.security['1'].secretKey.map((x: number) => x & 0xff)).equals(psks.get('ep-0001')!)).toBe(true)
    expect(p.security['1'].secretKey.every((x: number) => x >= -128 && x <= 127)).toBe(true)
    const c = out.c1
    expect(c.servers).toEqual({})
    expect(c.security['0']).toMatchObject({ bootstrapServer: true, securityMode: 'X509' })
    expect(Buffer.from(c.security['0'].publicKeyOrId.map((x: number) => x & 0xff)).equals(certDer)).toBe(true)
  })

  it('wakaama-bootstrap-ini: one [Server] + [Endpoint] per device, hex values, parses back', async () => {
    const rows = [pskRow('ep-0001'), pskRow('ep-0002'), row('n1', { security: 'nosec', serverUri: 'coap://x:5683', pskIdentity: null })]
    const ini = await run(rows, 'wakaama-bootstrap-ini', secretOpts)
    // a minimal ini reader like Wakaama's: sections in order, key=value, case-insensitive keys, repeated keys kept,
    // and (bootstrap_info.c) a section that runs into end-of-file is an error and dropped
    const sections: Array<{ name: string; kv: Array<[string, string]> }> = []
    let open: { name: string; kv: Array<[string, string]> } | undefined
    for (const line of ini.split('\n')) {
      const l = line.trim()
      if (!l || l.startsWith('#') || l.startsWith(';')) continue
      const m = /^\[(\w+)\]$/.exec(l)
      if (m) {
        if (open) sections.push(open)
        open = { name: m[1]!, kv: [] }
      } else {
        const i = l.indexOf('=')
        expect(i).toBeGreaterThan(0)
        open!.kv.push([l.slice(0, i).toLowerCase(), l.slice(i + 1)])
      }
    }
    const servers = sections.filter((s) => s.name === 'Server').map((s) => Object.fromEntries(s.kv))
    const eps = sections.filter((s) => s.name === 'Endpoint')
    expect(servers).toHaveLength(3)
    expect(eps).toHaveLength(3)
    expect(new Set(servers.map((s) => s.id)).size).toBe(3)
    expect(servers[0]).toMatchObject({ id: '1', uri: 'coaps://lwm2m.example.com:5684', bootstrap: 'no', lifetime: '300', security: 'PSK', public: Buffer.from('ep-0001').toString('hex'), secret: psks.get('ep-0001')!.toString('hex') })
    expect(servers[2]).toMatchObject({ security: 'NoSec' })
    expect(Object.fromEntries(eps[1]!.kv)).toMatchObject({ name: 'ep-0002', server: '2' })
    expect(eps[1]!.kv.filter(([k]) => k === 'delete').map(([, v]) => v)).toEqual(['/0', '/1'])
    expect(Object.fromEntries(eps[2]!.kv)).toMatchObject({ name: 'n1', server: '3' })
  })

  it('coiote: device JSON in arrays of at most 100', async () => {
    const rows = Array.from({ length: 250 }, (_, i) => pskRow(`ep-${i}`))
    const out = await run(rows, 'coiote', { ...secretOpts, domain: '/main/acme/' })
    const arrays = out.trimEnd().split('\n').map((l) => JSON.parse(l))
    expect(arrays.map((a) => a.length)).toEqual([100, 100, 50])
    expect(arrays[0][0]).toEqual({ properties: { endpointName: 'ep-0' }, connectorType: 'management', domain: '/main/acme/', securityMode: 'psk', dtlsIdentity: 'ep-0', dtlsPsk: { HexadecimalPsk: psks.get('ep-0')!.toString('hex') } })
  })

  it('coiote to files: numbered files of ≤ 100, digests beside', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lwprov-exp-'))
    const rows = Array.from({ length: 200 }, (_, i) => pskRow(`ep-${i}`))
    const r = await exportManifest(fakeStore(rows), 'coiote', secretOpts, fileTarget(join(dir, 'devices.json'), { digest: true }))
    expect(readdirSync(dir).sort()).toEqual(['devices-001.json', 'devices-001.json.sha256', 'devices-002.json', 'devices-002.json.sha256'])
    expect(r.rows).toBe(200)
    const body = readFileSync(join(dir, 'devices-002.json'))
    expect(JSON.parse(body.toString()).length).toBe(100)
    expect(readFileSync(join(dir, 'devices-002.json.sha256'), 'utf8')).toBe(`${createHash('sha256').update(body).digest('hex')}  devices-002.json\n`)
    expect(statSync(join(dir, 'devices-001.json')).mode & 0o777).toBe(0o600)
  })

  it('aws-bulk: NDJSON with ThingName, SerialNumber, CertificatePem', async () => {
    const out = await run([certRow('c1')], 'aws-bulk')
    expect(JSON.parse(out.trim())).toEqual({ ThingName: 'c1', SerialNumber: '01', CertificatePem: certPem })
  })

  it('nrfcloud-onboard: no header, 5 columns, quoted PEM, ≤ 1000 rows a file', async () => {
    const rows = Array.from({ length: 1001 }, (_, i) => certRow(`nrf-${i}`, { batch: 'line-2' }))
    const dir = mkdtempSync(join(tmpdir(), 'lwprov-nrf-'))
    await exportManifest(fakeStore(rows), 'nrfcloud-onboard', {}, fileTarget(join(dir, 'onboard.csv')))
    const a = parseCsv(readFileSync(join(dir, 'onboard-001.csv'), 'utf8'))
    const b = parseCsv(readFileSync(join(dir, 'onboard-002.csv'), 'utf8'))
    expect(a).toHaveLength(1000)
    expect(b).toHaveLength(1)
    expect(a[0]).toEqual(['nrf-0', '', 'line-2', 'APP|MODEM', certPem])
  })

  it('pem: a directory of <endpoint>.pem with SHA256SUMS', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'lwprov-pem-')), 'certs')
    await exportManifest(fakeStore([certRow('urn:dev:os:1-a'), pskRow('p1'), certRow('c2')]), 'pem', {}, fileTarget(dir, { digest: true }))
    expect(readdirSync(dir).sort()).toEqual(['SHA256SUMS', 'c2.pem', 'urn%3Adev%3Aos%3A1-a.pem'])
    expect(readFileSync(join(dir, 'c2.pem'), 'utf8')).toBe(certPem)
  })

  it('a failed file export leaves no file behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lwprov-fail-'))
    await expect(exportManifest(fakeStore([pskRow('p1')]), 'wakaama-bootstrap-ini', {}, fileTarget(join(dir, 'bs.ini')))).rejects.toMatchObject({ code: 'E_SECRETS_REQUIRED' })
    expect(readdirSync(dir)).toEqual([])
  })
})
