import { X509Certificate } from 'node:crypto'
import { join } from 'node:path'

import { beforeAll, describe, expect, it, vi } from 'vitest'

import { type DeveloperCa, DEVCERT_BATCH, runDevcert, type DevcertDeps, type DevcertRequest } from '../../../src/core/devcert/devcert.js'
import { loadTemplate } from '../../../src/core/devcert/templates.js'
import { LwprovError } from '../../../src/core/errors.js'
import type { ManifestRecord, NewManifestRecord } from '../../../src/core/manifest/types.js'
import { type CredentialProfile, DEFAULT_PROFILE } from '../../../src/core/model.js'
import { createCa, type LoadedCa, loadCa, writeCaDir } from '../../../src/core/pki/index.js'
import { tempDir } from '../../helpers/cli.js'
import { ACCOUNT, NOW, SERVER_CA_DER } from './fixtures.js'
import { lwprovFailure } from '../../helpers/errors.js'

const KEY_A = Buffer.alloc(32, 0xa1)
const KEY_B = Buffer.alloc(32, 0xb2)
let ca: LoadedCa

beforeAll(async () => {
  const dir = join(tempDir('lwprov-devcert-unit-'), 'ca')
  writeCaDir(dir, await createCa({ name: 'lwprov Developer CA', keyType: 'ec-p256', days: 3650, pathLen: 0 }), 'unit-passphrase')
  ca = await loadCa(dir, 'unit-passphrase')
})

/** In-memory manifest with the real uniqueness rule. */
function memoryStore(rows: ManifestRecord[] = []) {
  const map = new Map(rows.map((r) => [r.endpoint, r]))
  return {
    rows: map,
    get: vi.fn(async (ep: string) => map.get(ep)),
    getPolicy: vi.fn(async () => ({})),
    insertMany: vi.fn(async (rs: NewManifestRecord[]) => {
      const dups = rs.filter((r) => map.has(r.endpoint)).map((r) => r.endpoint)
      if (dups.length) throw new LwprovError('E_DUPLICATE_ENDPOINT', 'dup', { exit: 'conflict', details: { duplicates: dups } })
      for (const r of rs) map.set(r.endpoint, { ...r, createdAt: NOW.toISOString(), updatedAt: NOW.toISOString() } as ManifestRecord)
    }),
  }
}

function devCa(issued = 0): DeveloperCa & { recorded: unknown[] } {
  const recorded: unknown[] = []
  return { ca, dir: '/dev-ca', created: false, recorded, issuedCount: async () => issued + recorded.length, recordIssued: async (e) => void recorded.push(e) }
}

function profile(over: Partial<CredentialProfile> = {}): CredentialProfile {
  return { ...DEFAULT_PROFILE, mode: 'bootstrap', security: 'cert', serverUri: `coaps://bs.example.com:5684?aid=${ACCOUNT}`, serverCaDer: SERVER_CA_DER, ...over }
}

function request(over: Partial<DevcertRequest> = {}): DevcertRequest {
  return { endpoint: 'dev-unit-0001', profile: profile(), template: loadTemplate('izuma'), outName: 'mbed_cloud_dev_credentials.c', now: NOW, generator: 'lwprov test', ...over }
}


describe('runDevcert', () => {
  it('issues a certificate with CN = endpoint and OU = aid, records a sealed developer row, renders the template', async () => {
    const store = memoryStore()
    const dev = devCa()
    const o = await runDevcert(request(), { store, masterKeys: [KEY_A], developerCa: async () => dev })
    const row = store.rows.get('dev-unit-0001')!
    expect(row).toMatchObject({ developer: true, batch: DEVCERT_BATCH, status: 'generated', security: 'cert', mode: 'bootstrap', fingerprint: o.fingerprint })
    const cert = new X509Certificate(o.model.certificate!)
    expect(cert.subject).toContain('CN=dev-unit-0001')
    expect(cert.subject).toContain(`OU=${ACCOUNT}`)
    expect(cert.checkIssued(new X509Certificate(ca.certDer))).toBe(true)
    // the key is in the manifest only sealed
    expect(row.secret).toBeInstanceOf(Buffer)
    expect(row.secret!.includes(Buffer.from(o.model.key!).subarray(36, 68))).toBe(false)
    expect(o.files.map((f) => f.name)).toEqual(['mbed_cloud_dev_credentials.c'])
    expect(o.files[0]!.content.toString()).toContain('MBED_CLOUD_DEV_BOOTSTRAP_ENDPOINT_NAME[] = "dev-unit-0001"')
    expect(dev.recorded).toHaveLength(1)
    expect(o).toMatchObject({ reused: false, developerCa: '/dev-ca', warnings: [] })
  })

  it('refuses a second devcert for the same endpoint, and --reuse returns the stored one', async () => {
    const store = memoryStore()
    const first = await runDevcert(request(), { store, masterKeys: [KEY_A], developerCa: async () => devCa() })
    const developerCa = vi.fn(async () => devCa())
    const e = await lwprovFailure(runDevcert(request(), { store, masterKeys: [KEY_A], developerCa }))
    expect(e.code).toBe('E_DUPLICATE_ENDPOINT')
    expect(e.exitCode).toBe(3)
    expect(e.hint).toContain('--reuse')
    const again = await runDevcert(request({ reuse: true }), { store, masterKeys: [KEY_A], developerCa })
    expect(developerCa).not.toHaveBeenCalled()
    expect(again.reused).toBe(true)
    expect(again.fingerprint).toBe(first.fingerprint)
    expect(again.model.key).toEqual(first.model.key)
    expect(again.files[0]!.content.toString()).toBe(first.files[0]!.content.toString())
    expect(store.insertMany).toHaveBeenCalledTimes(1)
  })

  it('--reuse tries every key given, and says so when none opens the secret', async () => {
    const store = memoryStore()
    await runDevcert(request(), { store, masterKeys: [KEY_B], developerCa: async () => devCa() })
    expect((await runDevcert(request({ reuse: true }), { store, masterKeys: [KEY_A, KEY_B], developerCa: async () => devCa() })).reused).toBe(true)
    const e = await lwprovFailure(runDevcert(request({ reuse: true }), { store, masterKeys: [KEY_A], developerCa: async () => devCa() }))
    expect(e.code).toBe('E_DEVCERT_SECRET_UNREADABLE')
    expect(e.exitCode).toBe(6)
  })

  it('never reuses a factory row', async () => {
    const store = memoryStore([{ endpoint: 'dev-unit-0001', batch: 'line1', mode: 'bootstrap', security: 'cert', serverUri: 'coaps://x', status: 'injected', developer: false, createdAt: '', updatedAt: '' }])
    const e = await lwprovFailure(runDevcert(request({ reuse: true }), { store, masterKeys: [KEY_A], developerCa: async () => devCa() }))
    expect(e.code).toBe('E_DEVCERT_NOT_DEVELOPER')
    const e2 = await lwprovFailure(runDevcert(request(), { store, masterKeys: [KEY_A], developerCa: async () => devCa() }))
    expect(e2.code).toBe('E_DUPLICATE_ENDPOINT')
  })

  it('stops at the per-CA device limit unless forced', async () => {
    const store = memoryStore()
    const e = await lwprovFailure(runDevcert(request(), { store, masterKeys: [KEY_A], developerCa: async () => devCa(100) }))
    expect(e.code).toBe('E_DEVCERT_LIMIT')
    expect(e.hint).toContain('--force')
    expect(store.insertMany).not.toHaveBeenCalled()
    const e2 = await lwprovFailure(runDevcert(request({ maxDevices: 5 }), { store, masterKeys: [KEY_A], developerCa: async () => devCa(5) }))
    expect(e2.code).toBe('E_DEVCERT_LIMIT')
    await runDevcert(request({ force: true }), { store, masterKeys: [KEY_A], developerCa: async () => devCa(100) })
    expect(store.rows.size).toBe(1)
  })

  it('checks the template before touching the manifest or the CA', async () => {
    const store = memoryStore()
    const developerCa = vi.fn(async () => devCa())
    const deps: DevcertDeps = { store, masterKeys: [KEY_A], developerCa }
    const noCa = await lwprovFailure(runDevcert(request({ profile: profile({ serverCaDer: undefined }) }), deps))
    expect(noCa.code).toBe('E_DEVCERT_REQUIRES')
    expect(noCa.hint).toContain('--server-ca')
    const pskIzuma = await lwprovFailure(runDevcert(request({ profile: profile({ security: 'psk' }) }), deps))
    expect(pskIzuma.code).toBe('E_DEVCERT_SECURITY')
    const badUri = await lwprovFailure(runDevcert(request({ profile: profile({ serverUri: 'http://x' }) }), deps))
    expect(badUri.code).toBe('E_URI_INVALID')
    const badEp = await lwprovFailure(runDevcert(request({ endpoint: 'has space' }), deps))
    expect(badEp.code).toBe('E_ENDPOINT_INVALID')
    expect(store.get).not.toHaveBeenCalled()
    expect(developerCa).not.toHaveBeenCalled()
  })

  it('a broken user template costs no manifest row', async () => {
    const dir = tempDir('lwprov-devcert-tpl-')
    const file = join(dir, 'mine.h.tmpl')
    ;(await import('node:fs')).writeFileSync(file, 'const char *ep = {{endpoint | c_string}};\n{{certificat | c_bytes}}\n')
    const store = memoryStore()
    const e = await lwprovFailure(runDevcert(request({ template: loadTemplate(file), outName: 'mine.h' }), { store, masterKeys: [KEY_A], developerCa: async () => devCa() }))
    expect(e.code).toBe('E_DEVCERT_TEMPLATE')
    expect(e.message).toContain("unknown variable 'certificat'")
    expect(store.insertMany).not.toHaveBeenCalled()
  })

  it('an unwritable output is refused before the manifest or the CA is touched', async () => {
    const store = memoryStore()
    const developerCa = vi.fn(async () => devCa())
    const names: string[][] = []
    const prepareOutput = (n: string[]) => {
      names.push(n)
      throw new LwprovError('E_DEVCERT_OUT_UNWRITABLE', 'no', { exit: 'usage' })
    }
    const e = await lwprovFailure(runDevcert(request(), { store, masterKeys: [KEY_A], developerCa, prepareOutput }))
    expect(e.code).toBe('E_DEVCERT_OUT_UNWRITABLE')
    expect(names).toEqual([['mbed_cloud_dev_credentials.c']])
    expect(store.get).not.toHaveBeenCalled()
    expect(store.insertMany).not.toHaveBeenCalled()
    expect(developerCa).not.toHaveBeenCalled()
    // Fixed output: the endpoint is still free.
    const o = await runDevcert(request(), { store, masterKeys: [KEY_A], developerCa, prepareOutput: () => undefined })
    expect(o.reused).toBe(false)
  })

  it('PSK credentials need no CA and are sealed like certificates', async () => {
    const store = memoryStore()
    const developerCa = vi.fn(async () => devCa())
    const o = await runDevcert(
      request({ profile: profile({ security: 'psk', mode: 'direct', serverUri: 'coaps://lwm2m.example.com:5684', serverCaDer: undefined, pskBytes: 16 }), template: loadTemplate('c'), outName: 'creds.c' }),
      { store, masterKeys: [KEY_A], developerCa },
    )
    expect(developerCa).not.toHaveBeenCalled()
    expect(o.model.psk).toHaveLength(16)
    expect(o.model.identity).toBe('dev-unit-0001')
    expect(store.rows.get('dev-unit-0001')!.secret!.includes(Buffer.from(o.model.psk!))).toBe(false)
    expect(o.files.map((f) => f.name)).toEqual(['creds.c', 'creds.h'])
  })

  it('warns about a missing server CA (c template) and a URI without aid (izuma)', async () => {
    const o = await runDevcert(request({ profile: profile({ serverCaDer: undefined, serverUri: 'coaps://x.example.com:5684' }), template: loadTemplate('c'), outName: 'a.c' }), {
      store: memoryStore(),
      masterKeys: [KEY_A],
      developerCa: async () => devCa(),
    })
    expect(o.warnings.join('\n')).toContain('--server-ca')
    const o2 = await runDevcert(request({ profile: profile({ serverUri: 'coaps://x.example.com:5684' }) }), { store: memoryStore(), masterKeys: [KEY_A], developerCa: async () => devCa() })
    expect(o2.warnings.join('\n')).toContain('aid=')
  })
})
