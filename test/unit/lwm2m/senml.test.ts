import fs from 'node:fs'
import path from 'node:path'

import { describe, expect, it } from 'vitest'

import { decodeCbor, encodeCbor } from '../../../src/core/cbor.js'
import { LwprovError } from '../../../src/core/errors.js'
import {
  buildLwm2mConfig,
  decodeSenmlCbor,
  encodeSenmlCbor,
  encodeSenmlCborReference,
  lwm2mConfigIssues,
  validateLwm2mConfig,
  type Lwm2mConfig,
  type ResourceValue,
} from '../../../src/core/lwm2m/index.js'
import { instanceFromResources } from '../../../src/core/lwm2m/model.js'
import { resourceDef } from '../../../src/core/lwm2m/objects.js'
import type { CredentialSet } from '../../../src/core/model.js'

// A verbatim copy of the shared vectors/senml lives in ./fixtures/senml so the tests run anywhere (CI has no
// /work/shared); LWPROV_VECTORS=<vectors root> points them at another copy.
const VEC = process.env.LWPROV_VECTORS ? path.join(process.env.LWPROV_VECTORS, 'senml') : path.join(import.meta.dirname, 'fixtures', 'senml')
const KEYS = path.join(VEC, 'keys')

interface CaseResource {
  path: string
  name: string
  type: string
  value: string | number | boolean
}
interface Case {
  id: string
  endpoint: string
  security: string
  expect: string
  payload: { sha256: string; size: number }
  psk_identity?: string
  psk_key_hex?: string
  records: Record<string, unknown>[]
  resources: CaseResource[]
  keys?: string[]
}

const load = (id: string) => {
  const dir = path.join(VEC, id)
  return {
    c: JSON.parse(fs.readFileSync(path.join(dir, 'case.json'), 'utf8')) as Case,
    payload: fs.readFileSync(path.join(dir, 'payload.cbor')),
  }
}
const key = (f: string) => fs.readFileSync(path.join(KEYS, f))
const psk = JSON.parse(fs.readFileSync(path.join(KEYS, 'psk.json'), 'utf8')) as Record<string, { identity: string; key_hex: string }>

/** The config described by case.json `resources` (opaques as hex), independent of lwprov's builder. */
function configFromResources(resources: CaseResource[]): Lwm2mConfig {
  const insts = new Map<string, Map<number, ResourceValue>>()
  for (const r of resources) {
    const [, o, i, rid] = r.path.split('/').map(Number) as [number, number, number, number]
    const k = `${o}/${i}`
    if (!insts.has(k)) insts.set(k, new Map())
    insts.get(k)!.set(rid, r.type === 'opaque' ? Buffer.from(String(r.value), 'hex') : r.value)
  }
  const cfg: Lwm2mConfig = { security: [], server: [] }
  const fail = (p: string, why: string): never => {
    throw new Error(`${p}: ${why}`)
  }
  for (const [k, res] of insts) {
    const [o, i] = k.split('/').map(Number) as [number, number]
    if (o === 0) cfg.security.push(instanceFromResources(0, i, res, fail))
    else cfg.server.push(instanceFromResources(1, i, res, fail))
  }
  return cfg
}

const base = {
  shortServerId: 1,
  lifetime: 300,
  binding: 'U',
  notificationStoring: false,
}

/** The CredentialSet each positive vector was made from (case.json + keys/). */
const credentialSets: Record<string, CredentialSet> = {
  '01-direct-psk-16': {
    ...base,
    endpoint: 'lwprov-psk-0001',
    mode: 'direct',
    security: 'psk',
    serverUri: 'coaps://127.0.0.1:5684',
    psk: Buffer.from(psk.dm16!.key_hex, 'hex'),
  },
  '02-direct-psk-32': {
    ...base,
    endpoint: 'lwprov-psk-0002',
    mode: 'direct',
    security: 'psk',
    serverUri: 'coaps://127.0.0.1:5684',
    psk: Buffer.from(psk.dm32!.key_hex, 'hex'),
  },
  '03-bootstrap-psk': {
    ...base,
    endpoint: 'lwprov-psk-0003',
    mode: 'bootstrap',
    security: 'psk',
    serverUri: 'coaps://127.0.0.1:5784',
    pskIdentity: psk.bs!.identity,
    psk: Buffer.from(psk.bs!.key_hex, 'hex'),
  },
  '04-direct-cert-pkcs8': {
    ...base,
    endpoint: 'lwprov-cert-0004',
    mode: 'direct',
    security: 'cert',
    serverUri: 'coaps://127.0.0.1:5684',
    certificateDer: key('device.crt.der'),
    privateKeyDer: key('device.key.pk8.der'),
    serverCaDer: key('server.crt.der'),
    certificateUsage: 3,
  },
  '05-direct-cert-sec1-ca': {
    ...base,
    endpoint: 'lwprov-cert-0004',
    mode: 'direct',
    security: 'cert',
    serverUri: 'coaps://127.0.0.1:5684',
    certificateDer: key('device.crt.der'),
    privateKeyDer: key('device.key.sec1.der'),
    serverCaDer: key('ca.crt.der'),
    // certificateUsage left out: lwprov defaults to 2 (DANE-TA) when a server CA is given.
  },
  '06-negative-wrong-psk-key': {
    ...base,
    endpoint: 'lwprov-psk-0001',
    mode: 'direct',
    security: 'psk',
    serverUri: 'coaps://127.0.0.1:5684',
    psk: Buffer.from('7bfd46dbef9969c2176e43a90440a6dc', 'hex'),
  },
}

const POSITIVE = ['01-direct-psk-16', '02-direct-psk-32', '03-bootstrap-psk', '04-direct-cert-pkcs8', '05-direct-cert-sec1-ca', '06-negative-wrong-psk-key']

const senmlCode = (fn: () => unknown) => {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(LwprovError)
    return e as LwprovError
  }
  throw new Error('expected an E_SENML_INVALID error')
}

describe('SenML-CBOR golden vectors', () => {
  it('vector files are intact (sha256)', async () => {
    const { createHash } = await import('node:crypto')
    for (const id of fs.readdirSync(VEC).filter((d) => /^\d\d-/.test(d))) {
      const { c, payload } = load(id)
      expect(payload.length).toBe(c.payload.size)
      expect(createHash('sha256').update(payload).digest('hex')).toBe(c.payload.sha256)
    }
  })

  it.each(POSITIVE)('%s: buildLwm2mConfig + encodeSenmlCbor == payload.cbor byte for byte', (id) => {
    const { c, payload } = load(id)
    const cfg = buildLwm2mConfig(credentialSets[id]!, { emptyServerPublicKey: 'omit' })
    expect(encodeSenmlCbor(cfg).toString('hex')).toBe(payload.toString('hex'))
    // the same config as case.json's resource list
    expect(cfg).toEqual(configFromResources(c.resources))
  })

  it.each([...POSITIVE, '08-negative-direct-without-server-object'])('%s: config from case.json resources encodes to payload.cbor', (id) => {
    const { c, payload } = load(id)
    expect(encodeSenmlCbor(configFromResources(c.resources)).equals(payload)).toBe(true)
  })

  it.each([...POSITIVE, '07-direct-psk-16-basename', '08-negative-direct-without-server-object'])('%s: decodes to the case.json resources and round-trips', (id) => {
    const { c, payload } = load(id)
    const cfg = decodeSenmlCbor(payload)
    expect(cfg).toEqual(configFromResources(c.resources))
    // every decoded resource agrees with case.json, type by type
    for (const r of c.resources) {
      const [, o, i, rid] = r.path.split('/').map(Number) as [number, number, number, number]
      expect(resourceDef(o, rid)!.name).toBe(r.name)
    }
    if (id !== '07-direct-psk-16-basename') expect(encodeSenmlCbor(cfg).equals(payload)).toBe(true)
  })

  it.each([...POSITIVE, '08-negative-direct-without-server-object'])('%s: encoded records match case.json records (label names, hex bytes)', (id) => {
    const { c, payload } = load(id)
    const names: Record<string, string> = { '-2': 'bn', '0': 'n', '2': 'v', '3': 'vs', '4': 'vb', '8': 'vd' }
    const recs = (decodeCbor(encodeSenmlCbor(decodeSenmlCbor(payload))) as Map<number, unknown>[]).map((m) =>
      Object.fromEntries([...m].map(([k, v]) => [names[String(k)] ?? String(k), v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v])),
    )
    expect(recs).toEqual(c.records)
  })

  it('07 (bn form) decodes to exactly the 01 config', () => {
    expect(decodeSenmlCbor(load('07-direct-psk-16-basename').payload)).toEqual(decodeSenmlCbor(load('01-direct-psk-16').payload))
    expect(encodeSenmlCbor(decodeSenmlCbor(load('07-direct-psk-16-basename').payload)).equals(load('01-direct-psk-16').payload)).toBe(true)
  })

  it('06 decodes (the client accepts it; the handshake fails later) and differs from 01 only in the key', () => {
    const a = decodeSenmlCbor(load('01-direct-psk-16').payload)
    const b = decodeSenmlCbor(load('06-negative-wrong-psk-key').payload)
    expect(b.security[0]!.secretKey).not.toEqual(a.security[0]!.secretKey)
    expect({ ...b, security: [{ ...b.security[0]!, secretKey: a.security[0]!.secretKey }] }).toEqual(a)
    expect(() => validateLwm2mConfig(b)).not.toThrow()
  })

  it('08 decodes but validateLwm2mConfig flags a direct account without /1', () => {
    const cfg = decodeSenmlCbor(load('08-negative-direct-without-server-object').payload)
    expect(cfg.server).toEqual([])
    let err: LwprovError | undefined
    try {
      validateLwm2mConfig(cfg)
    } catch (e) {
      err = e as LwprovError
    }
    expect(err?.code).toBe('E_LWM2M_CONFIG_INVALID')
    expect(err?.message).toMatch(/\/0\/1: direct account without a \/1 server instance/)
  })

  it.each([
    ['90-reject-opaque-under-v', '/0/1/3', /opaque.*under vd, not v \(a byte string\)/],
    ['91-reject-identity-as-text', '/0/1/3', /opaque.*under vd, not vs \(text\)/],
    ['92-reject-bool-as-integer', '/0/1/1', /boolean.*under vb, not v/],
    ['93-reject-missing-notification-storing', '/1/1/6', /missing Notification Storing/],
    ['94-reject-missing-short-server-id', '/0/1/10', /missing Short Server ID/],
    ['95-reject-unsupported-resource', '/1/1/13', /Registration Priority Order is not supported/],
    ['96-reject-relative-path', '0/1/0', /relative path/],
    ['97-reject-instance-path', '/1/1', /instance path/],
  ])('%s is rejected with E_SENML_INVALID naming %s', (id, where, why) => {
    const e = senmlCode(() => decodeSenmlCbor(load(id).payload))
    expect(e.code).toBe('E_SENML_INVALID')
    expect(e.details).toMatchObject({ path: where })
    expect(e.message).toContain(where)
    expect(e.message).toMatch(why)
    expect(e.hint).toBeTruthy()
  })
})

describe('buildLwm2mConfig', () => {
  it('omits /0/x/4 for PSK by default (the Anjay-verified form) and writes it empty on request', () => {
    expect(buildLwm2mConfig(credentialSets['01-direct-psk-16']!).security[0]!.serverPublicKey).toBeUndefined()
    const cfg = buildLwm2mConfig(credentialSets['01-direct-psk-16']!, { emptyServerPublicKey: 'write' })
    expect(cfg.security[0]!.serverPublicKey).toEqual(Buffer.alloc(0))
    const bytes = encodeSenmlCbor(cfg)
    expect(decodeSenmlCbor(bytes)).toEqual(cfg)
    expect(lwm2mConfigIssues(cfg)).toEqual([])
    // the vector plus exactly one record {0: "/0/1/4", 8: h''}
    const recs = decodeCbor(bytes) as Map<number, unknown>[]
    expect(recs).toHaveLength(11)
    expect(encodeCbor(recs[4]! as never).toString('hex')).toBe(encodeCbor(new Map<number, unknown>([[0, '/0/1/4'], [8, new Uint8Array(0)]]) as never).toString('hex'))
  })

  it('bootstrap: /0/0 only, Bootstrap-Server true, no SSID, no /1', () => {
    const cfg = buildLwm2mConfig(credentialSets['03-bootstrap-psk']!)
    expect(cfg.server).toEqual([])
    expect(cfg.security).toHaveLength(1)
    expect(cfg.security[0]).toMatchObject({ iid: 0, bootstrapServer: true, securityMode: 0 })
    expect(cfg.security[0]!.shortServerId).toBeUndefined()
  })

  it('PSK identity defaults to the endpoint name as UTF-8', () => {
    const cs = { ...credentialSets['01-direct-psk-16']!, endpoint: 'ép-1' }
    expect(Buffer.from(buildLwm2mConfig(cs).security[0]!.publicKeyOrIdentity).toString('hex')).toBe(Buffer.from('ép-1', 'utf8').toString('hex'))
  })

  it('nosec: empty 3/4/5, coap://', () => {
    const cfg = buildLwm2mConfig({ ...base, endpoint: 'dev', mode: 'direct', security: 'nosec', serverUri: 'coap://127.0.0.1:5683' })
    const s = cfg.security[0]!
    expect([s.publicKeyOrIdentity.length, s.serverPublicKey, s.secretKey.length, s.securityMode]).toEqual([0, undefined, 0, 3])
    expect(lwm2mConfigIssues(cfg)).toEqual([])
    expect(decodeSenmlCbor(encodeSenmlCbor(cfg))).toEqual(cfg)
  })

  it('cert without a server CA: empty /0/x/4, no /0/x/15', () => {
    const cs = { ...credentialSets['04-direct-cert-pkcs8']! }
    delete cs.serverCaDer
    delete cs.certificateUsage
    const s = buildLwm2mConfig(cs).security[0]!
    expect(s.serverPublicKey).toEqual(Buffer.alloc(0))
    expect(s.certificateUsage).toBeUndefined()
  })

  it('refuses rpk and a PSK set without a key', () => {
    expect(() => buildLwm2mConfig({ ...credentialSets['01-direct-psk-16']!, security: 'rpk' })).toThrow(/Raw Public Key/)
    const cs = { ...credentialSets['01-direct-psk-16']! }
    delete cs.psk
    expect(() => buildLwm2mConfig(cs)).toThrow(LwprovError)
  })
})

describe('decodeSenmlCbor accepts what the client accepts', () => {
  const rec = (n: string, label: number | string, v: unknown, extra: [number | string, unknown][] = []) =>
    new Map<number | string, unknown>([...extra, [0, n], [label, v]])
  const base01 = () => decodeCbor(load('01-direct-psk-16').payload) as Map<number | string, unknown>[]
  const enc = (recs: unknown[]) => encodeCbor(recs as never)

  it('any record order (/1 before /0) and any key order', () => {
    const recs = base01().reverse().map((m) => new Map([...m].reverse()))
    expect(decodeSenmlCbor(enc(recs))).toEqual(decodeSenmlCbor(load('01-direct-psk-16').payload))
  })

  it('a repeated path: the last write wins', () => {
    const recs = [...base01(), rec('/1/1/1', 2, 86400)]
    expect(decodeSenmlCbor(enc(recs)).server[0]!.lifetime).toBe(86400)
  })

  it('indefinite-length array and maps', () => {
    const hex = load('01-direct-psk-16').payload.toString('hex')
    // 0x8a (array of 10) -> 0x9f ... 0xff; first map a2 -> bf ... ff
    const first = encodeCbor(base01()[0] as never).toString('hex').slice(2)
    const rest = hex.slice(2 + 2 + first.length)
    const bytes = Buffer.from(`9fbf${first}ff${rest}ff`, 'hex')
    expect(decodeSenmlCbor(bytes)).toEqual(decodeSenmlCbor(load('01-direct-psk-16').payload))
  })

  it('an empty array = no servers at all', () => {
    expect(decodeSenmlCbor(Buffer.from('80', 'hex'))).toEqual({ security: [], server: [] })
  })

  it('bn + n forms and bn alone naming the resource', () => {
    const recs = base01().map((m) => new Map(m))
    recs[0] = new Map<number | string, unknown>([[-2, '/0/1/0'], [3, 'coaps://127.0.0.1:5684']])
    recs[1] = new Map<number | string, unknown>([[-2, '/0/1/'], [0, '1'], [4, false]])
    // bn stays in force: the next records are relative to it, until a new bn resets it
    recs[2] = new Map<number | string, unknown>([[0, '2'], [2, 0]])
    recs[3] = new Map<number | string, unknown>([[-2, ''], [0, '/0/1/3'], [8, recs[3]!.get(8)]])
    expect(decodeSenmlCbor(enc(recs))).toEqual(decodeSenmlCbor(load('01-direct-psk-16').payload))
  })

  it.each([
    ['trailing bytes', () => Buffer.concat([load('01-direct-psk-16').payload, Buffer.from([0])]), '', /trailing/],
    ['not an array', () => encodeCbor(new Map() as never), '', /array/],
    ['a record that is not a map', () => enc([...base01(), 1]), 'record 10', /map/],
    ['bt label', () => enc([...base01().slice(0, 9), rec('/1/1/7', 3, 'U', [[-3, 0]])]), 'record 9', /bt/],
    ['t label', () => enc([...base01().slice(0, 9), rec('/1/1/7', 3, 'U', [[6, 0]])]), 'record 9', /label t/],
    ['u label', () => enc([...base01().slice(0, 9), rec('/1/1/7', 3, 'U', [[1, 's']])]), 'record 9', /label u/],
    ['two values', () => enc([...base01().slice(0, 9), rec('/1/1/7', 3, 'U', [[2, 1]])]), 'record 9', /two values/],
    ['no value', () => enc([...base01(), new Map([[0, '/1/1/2']])]), '/1/1/2', /no value/],
    ['object path', () => enc([...base01(), rec('/1', 2, 1)]), '/1', /object or instance path/],
    ['unknown object', () => enc([...base01(), rec('/3/0/0', 3, 'x')]), '/3/0/0', /object 3/],
    ['unsupported /0/x/6', () => enc([...base01(), rec('/0/1/6', 2, 0)]), '/0/1/6', /SMS Security Mode is not supported/],
    ['unknown resource', () => enc([...base01(), rec('/1/1/99', 2, 0)]), '/1/1/99', /unknown resource/],
    ['resource instance of a single resource', () => enc([...base01(), rec('/1/1/1/0', 2, 0)]), '/1/1/1/0', /single-instance/],
    ['float under v', () => enc([...base01(), rec('/1/1/2', 2, 1.5)]), '/1/1/2', /integer/],
    ['objlnk label for an integer', () => enc([...base01(), rec('/1/1/2', 'vlo', '21:0')]), '/1/1/2', /under v, not vlo/],
    ['SSID 0', () => enc([...base01().slice(0, 6), rec('/1/1/0', 2, 0), ...base01().slice(7)]), '/1/1/0', /outside 1..65534/],
    ['two bootstrap accounts', () => enc([...load03recs(0), ...load03recs(2)]), '/0/2/1', /more than one bootstrap/],
    ['RPK', () => enc(base01().map((m) => (m.get(0) === '/0/1/2' ? rec('/0/1/2', 2, 1) : m))), '/0/1/2', /Raw Public Key/],
    ['coap:// with PSK', () => enc(base01().map((m) => (m.get(0) === '/0/1/0' ? rec('/0/1/0', 3, 'coap://127.0.0.1:5683') : m))), '/0/1/0', /\(psk\) needs a coaps:\/\/ URI/],
    ['empty PSK identity', () => enc(base01().map((m) => (m.get(0) === '/0/1/3' ? rec('/0/1/3', 8, new Uint8Array(0)) : m))), '/0/1/3', /empty PSK identity/],
  ])('rejects %s', (_name, make, where, why) => {
    const e = senmlCode(() => decodeSenmlCbor(make()))
    expect(e.code).toBe('E_SENML_INVALID')
    expect((e.details as { path: string }).path).toBe(where)
    expect(e.message).toMatch(why)
  })

  function load03recs(iid: number) {
    return (decodeCbor(load('03-bootstrap-psk').payload) as Map<number, unknown>[]).map((m) => new Map([[0, String(m.get(0)).replace('/0/0/', `/0/${iid}/`)], ...[...m].filter(([k]) => k !== 0)]))
  }
})

describe('validateLwm2mConfig pairing rules', () => {
  const direct = () => buildLwm2mConfig(credentialSets['01-direct-psk-16']!)
  const issues = (cfg: Lwm2mConfig) => lwm2mConfigIssues(cfg).map((i) => `${i.path}: ${i.reason}`)

  it('accepts built bootstrap, direct and bootstrap+direct configs', () => {
    const bs = buildLwm2mConfig(credentialSets['03-bootstrap-psk']!)
    const d = direct()
    expect(issues(bs)).toEqual([])
    expect(issues(d)).toEqual([])
    expect(issues({ security: [...bs.security, ...d.security], server: d.server })).toEqual([])
  })

  it('SSID mismatch between /0 and /1', () => {
    const cfg = direct()
    cfg.server[0]!.shortServerId = 2
    expect(issues(cfg).join('\n')).toMatch(/\/0\/1: direct account without a \/1[\s\S]*\/1\/1: server instance with Short Server ID 2 matches no direct/)
  })

  it('SSID range, duplicates, two bootstrap accounts, scheme, binding', () => {
    const cfg = direct()
    cfg.security[0]!.shortServerId = 65535
    expect(issues(cfg).join()).toMatch(/outside 1\.\.65534/)
    const two = direct()
    two.security.push({ ...two.security[0]!, iid: 2 })
    two.server.push({ ...two.server[0]!, iid: 2 })
    expect(issues(two).join()).toMatch(/used by two security instances/)
    expect(issues(two).join()).toMatch(/used by two server instances/)
    const bs = buildLwm2mConfig(credentialSets['03-bootstrap-psk']!)
    bs.security.push({ ...bs.security[0]!, iid: 5 })
    expect(issues(bs).join()).toMatch(/more than one bootstrap account/)
    const nosecUri = direct()
    nosecUri.security[0]!.securityMode = 3
    expect(issues(nosecUri).join()).toMatch(/\/0\/1\/0: security mode 3 \(nosec\) needs a coap:\/\/ URI/)
    const b = direct()
    b.server[0]!.binding = 'X'
    expect(issues(b).join()).toMatch(/binding "X"/)
  })

  it('full URI syntax is lwprov policy (issues), the scheme/mode pairing is a client rejection (decoder)', () => {
    const cfg = direct()
    cfg.security[0]!.serverUri = 'coaps://example.com:0'
    expect(decodeSenmlCbor(encodeSenmlCbor(cfg))).toEqual(cfg)
    expect(issues(cfg).join()).toMatch(/\/0\/1\/0: invalid LwM2M server URI.*port "0"/)
  })

  it('cert mode requires /0/x/4 to be written', () => {
    const cfg = buildLwm2mConfig(credentialSets['04-direct-cert-pkcs8']!)
    delete cfg.security[0]!.serverPublicKey
    expect(issues(cfg).join()).toMatch(/\/0\/1\/4: certificate mode must write Server Public Key/)
  })
})

describe('fast encoder == reference encoder (encodeCbor of the record maps)', () => {
  it.each(fs.readdirSync(VEC).filter((d) => /^0[1-8]-/.test(d)))('%s', (id) => {
    const cfg = decodeSenmlCbor(load(id).payload)
    expect(encodeSenmlCbor(cfg).equals(encodeSenmlCborReference(cfg))).toBe(true)
  })

  it('random configurations: every head width, negative and large integers, long strings, unsorted instances', () => {
    let seed = 12345
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed % n
    }
    const ints = [0, 1, 23, 24, 255, 256, 65535, 65536, 0xffffffff, 2 ** 32, Number.MAX_SAFE_INTEGER, -1, -24, -25, -256, -257, -65537]
    for (let k = 0; k < 300; k++) {
      const n = () => ints[rnd(ints.length)]!
      const sec = {
        iid: rnd(70000) % 65535,
        serverUri: 'coaps://x'.padEnd(rnd(300) + 9, 'y'),
        bootstrapServer: rnd(2) === 0,
        securityMode: n(),
        publicKeyOrIdentity: Buffer.alloc(rnd(3) === 0 ? rnd(70000) : rnd(30), 1),
        secretKey: Buffer.alloc(rnd(40), 2),
        ...(rnd(2) ? { serverPublicKey: Buffer.alloc(rnd(300), 3) } : {}),
        ...(rnd(2) ? { shortServerId: n() } : {}),
        ...(rnd(2) ? { sni: 'é'.repeat(rnd(20)) } : {}),
        ...(rnd(2) ? { clientHoldOffTime: n() } : {}),
      }
      const srv = { iid: rnd(5), shortServerId: n(), lifetime: n(), notificationStoring: rnd(2) === 1, binding: 'UQ', ...(rnd(2) ? { defaultMaximumPeriod: n() } : {}) }
      const cfg: Lwm2mConfig = { security: [sec, { ...sec, iid: rnd(10) }], server: [srv, { ...srv, iid: rnd(10) + 5 }] }
      expect(encodeSenmlCbor(cfg).equals(encodeSenmlCborReference(cfg))).toBe(true)
    }
  })
})

describe('encoder speed sanity', () => {
  it('encodes many PSK configs (timing is in bench/, this only checks the output stays canonical)', () => {
    const cs = credentialSets['01-direct-psk-16']!
    const want = load('01-direct-psk-16').payload
    for (let i = 0; i < 1000; i++) expect(encodeSenmlCbor(buildLwm2mConfig(cs, { emptyServerPublicKey: 'omit' })).equals(want)).toBe(true)
  })
})
