import { describe, expect, it } from 'vitest'

import type { CredentialSet, DeviceInfo } from '../../../src/core/model.js'
import { FccProtocol } from '../../../src/core/inject/fcc/protocol.js'
import { FccSimDevice, type FccSimOptions } from '../../../src/core/inject/fcc/sim.js'
import { DEFAULT_TIMEOUTS, type InjectionHooks, type InjectionPlan } from '../../../src/core/inject/types.js'
import { throwawayCa } from './ca.js'
import { simLink, type SimLinkOptions } from './link.js'
import { key } from './vectors.js'
import { lwprovFailure } from '../../helpers/errors.js'

const AID = '0123456789abcdef0123456789abcdef'
const NOW = new Date('2026-11-23T12:00:00Z')
const info: DeviceInfo = { manufacturer: 'Acme', modelNumber: 'M1', deviceType: 'sensor', hardwareVersion: '1.0', serialNumber: 'SN-0001', memoryTotalKb: 512 }

function creds(over: Partial<CredentialSet> = {}): CredentialSet {
  return {
    endpoint: 'test-ep-0001',
    mode: 'bootstrap',
    security: 'cert',
    serverUri: `coaps://bootstrap.example.com:5684?aid=${AID}`,
    certificateDer: key('device-0001-bootstrap.cert.der'),
    privateKeyDer: key('device-0001-bootstrap.key.pkcs8.der'),
    serverCaDer: key('test-server-ca.cert.der'),
    shortServerId: 1,
    lifetime: 86400,
    binding: 'U',
    notificationStoring: false,
    ...over,
  }
}
const direct = () =>
  creds({
    endpoint: 'test-ep-0002',
    mode: 'direct',
    serverUri: `coaps://lwm2m.example.com:5684?aid=${AID}`,
    certificateDer: key('device-0002-lwm2m.cert.der'),
    privateKeyDer: key('device-0002-lwm2m.key.pkcs8.der'),
  })
const ftc = () =>
  creds({
    endpoint: 'test-ep-0003',
    serverUri: 'coaps://bootstrap.example.com:5684',
    certificateDer: key('device-0003-ftc.cert.der'),
    privateKeyDer: key('device-0003-ftc.key.pkcs8.der'),
  })
const plan = (cs: CredentialSet, over: Partial<InjectionPlan> = {}): InjectionPlan => ({ endpoint: cs.endpoint, credentials: cs, deviceInfo: info, now: NOW, ...over })

async function session(p: InjectionPlan, simOpts: Partial<FccSimOptions> = {}, linkOpts: SimLinkOptions = {}, hooks: InjectionHooks = {}, timeouts = DEFAULT_TIMEOUTS) {
  const sim = new FccSimDevice({ serial: 'SIM-1', clock: () => NOW, ...simOpts })
  const link = simLink(sim, linkOpts)
  const logs: string[] = []
  const steps: string[] = []
  const proto = new FccProtocol()
  const h: InjectionHooks = { onDeviceLog: (t) => logs.push(t), onStep: (s) => steps.push(s), ...hooks }
  const identity = await proto.identify(link, timeouts, h, { serial: info.serialNumber })
  try {
    const result = await proto.provision(link, p, timeouts, h)
    return { result, link, sim, logs, steps, identity }
  } finally {
    await link.close()
  }
}


describe('FccProtocol ↔ FccSimDevice', () => {
  it('bootstrap over a serial line: verified, digest, device log, identity from the fallback', async () => {
    const { result, logs, steps, identity, sim } = await session(plan(creds()))
    expect(result.verified).toBe(true)
    expect(result.readbackDigest).toMatch(/^[0-9a-f]{64}$/)
    expect(result.enrollmentId).toBeUndefined()
    expect(result.deviceLog).toContain('[FCC] bundle processed: FCC_STATUS_SUCCESS')
    expect(logs).toContain('[FCC] storage wiped for a new factory session')
    expect(logs.every((l) => !l.includes('\n') && !l.endsWith('\r'))).toBe(true)
    expect(steps).toEqual(expect.arrayContaining(['identify', 'write', 'verify', 'done']))
    expect(identity).toMatchObject({ serial: 'SN-0001', capabilities: expect.arrayContaining(['fcc']) })
    expect(sim.messages).toBe(1)
  })

  it('direct LwM2M over TCP (device hangs up after the response)', async () => {
    const { result, link } = await session(plan(direct(), { deviceInfo: { ...info, timezone: 'Europe/Helsinki', utcOffset: '+02:00' } }), { transport: 'tcp' })
    expect(result.verified).toBe(true)
    expect(result.deviceLog).toBe('')
    expect(link.closed).toBe(true)
  })

  it('first-to-claim returns the enrollment id of the certificate', async () => {
    const { result } = await session(plan(ftc(), { firstToClaim: true }), { transport: 'tcp' })
    expect(result.verified).toBe(true)
    expect(result.enrollmentId).toMatch(/^A-([0-9a-f]{2}:){31}[0-9a-f]{2}$/)
  })

  for (const mode of ['bootstrap', 'direct'] as const) {
    it(`on-device key generation (${mode}): CSR signed by a throwaway CA, private key never sent`, async () => {
      const ca = await throwawayCa()
      const base = mode === 'bootstrap' ? creds() : direct()
      const cs = { ...base, certificateDer: undefined, privateKeyDer: undefined }
      let signed = 0
      const p = plan(cs, {
        signCsr: async (csrDer) => {
          signed++
          return { certificateDer: await ca.sign(csrDer, mode === 'direct' ? { ou: AID } : {}), chainDer: [ca.certDer] }
        },
      })
      const { result, link, sim, steps } = await session(p, { transport: 'tcp' })
      expect(signed).toBe(1)
      expect(result.verified).toBe(true)
      expect(result.certificateDer?.length).toBeGreaterThan(200)
      expect(sim.messages).toBe(2)
      expect(link.written).toHaveLength(2)
      expect(steps).toEqual(expect.arrayContaining(['keygen', 'sign', 'write', 'verify']))
      // No Keys group in either message: nothing that looks like a private key went to the device.
      for (const w of link.written) expect(w.includes(Buffer.from('Keys'))).toBe(false)
      expect(link.closed).toBe(true)
    })
  }

  it('a CSR signed for the wrong endpoint is caught before message 2', async () => {
    const ca = await throwawayCa()
    const cs = { ...creds(), certificateDer: undefined, privateKeyDer: undefined }
    const e = await lwprovFailure(session(plan(cs, { signCsr: async (csr) => ({ certificateDer: await ca.sign(csr, { cn: 'someone-else' }), chainDer: [] }) })))
    expect(e.code).toBe('E_FCC_CN_MISMATCH')
    expect(e.details?.detectedBy).toBe('host')
  })

  const splits: Array<[string, SimLinkOptions]> = [
    ['byte by byte', { chunk: 1, hostChunk: 1 }],
    ['random splits', { chunk: () => 1 + Math.floor(Math.random() * 64), hostChunk: () => 1 + Math.floor(Math.random() * 64) }],
    ['noise before the token', { preamble: Buffer.from('\r\n[BOOT] mbed OS\r\nmbedpro mmbed [FCC] factory flow ready\r\nm'), hostChunk: 7 }],
  ]
  for (const [name, o] of splits) {
    it(`survives chunking: ${name}`, async () => {
      const { result, logs } = await session(plan(creds()), {}, o)
      expect(result.verified).toBe(true)
      if (o.preamble) expect(logs.join('')).toContain('[BOOT] mbed OS')
    })
  }
})

describe('FccProtocol failures', () => {
  it('host pre-checks reject before touching the device, with the device status names', async () => {
    const cases: Array<[InjectionPlan, string]> = [
      [plan(creds({ endpoint: 'test-ep-9999' })), 'E_FCC_CN_MISMATCH'],
      [plan(creds(), { deviceInfo: { ...info, serialNumber: undefined } }), 'E_FCC_ITEM_NOT_EXIST'],
      [plan(ftc(), { firstToClaim: true, credentials: { ...ftc(), serverUri: `coaps://bootstrap.example.com:5684?aid=${AID}` } }), 'E_FCC_FIRST_TO_CLAIM_NOT_ALLOWED'],
      [plan(creds({ serverUri: 'coaps://bootstrap.example.com:5684' })), 'E_FCC_URI_WRONG_FORMAT'],
      [plan({ ...direct(), serverUri: 'coaps://lwm2m.example.com:5684?aid=ffffffffffffffffffffffffffffffff' }), 'E_FCC_CN_MISMATCH'],
      [plan(creds({ privateKeyDer: key('device-0003-ftc.key.pkcs8.der') })), 'E_FCC_KEY_CERT_MISMATCH'],
      [plan(creds({ serverCaDer: undefined })), 'E_FCC_ITEM_NOT_EXIST'],
      [plan(creds(), { deviceInfo: { ...info, utcOffset: '2h' } }), 'E_FCC_UTC_OFFSET_WRONG_FORMAT'],
    ]
    for (const [p, code] of cases) {
      const sim = new FccSimDevice({ serial: 's', clock: () => NOW })
      const link = simLink(sim)
      const e = await lwprovFailure(new FccProtocol().provision(link, p, DEFAULT_TIMEOUTS, {}))
      expect(e.code, `${code}: ${e.message}`).toBe(code)
      expect(e.exitCode).toBe(4)
      expect(e.details?.detectedBy).toBe('host')
      expect(e.hint).toBeTruthy()
      expect(link.written).toHaveLength(0)
    }
  })

  it('PSK credentials are a usage error', async () => {
    const e = await lwprovFailure(session(plan(creds({ security: 'psk', certificateDer: undefined, privateKeyDer: undefined, psk: Buffer.alloc(16) }))))
    expect(e.code).toBe('E_FCC_SECURITY_UNSUPPORTED')
    expect(e.exitCode).toBe(2)
  })

  it('a refusing device ends in a device error naming the FCC status', async () => {
    const e = await lwprovFailure(session(plan(creds()), { refuse: true }))
    expect(e.code).toBe('E_FCC_KCM_STORAGE_ERROR')
    expect(e.exitCode).toBe(4)
    expect(e.details).toMatchObject({ fccStatus: 16, detectedBy: 'device', item: 'mbed.BootstrapDeviceCert' })
    expect(e.details?.deviceLog).toContain('FCC_STATUS_KCM_STORAGE_ERROR')
  })

  it('a corrupted response digest is a transport error', async () => {
    const e = await lwprovFailure(session(plan(creds()), { corruptDigest: true }))
    expect(e.code).toBe('E_FCC_RESPONSE_CORRUPT')
    expect(e.exitCode).toBe(5)
  })

  it('serial: a frame corrupted on the way gets the 12-byte error frame → transport error', async () => {
    const e = await lwprovFailure(session(plan(creds()), {}, { corruptWriteAt: 200 }))
    expect(e.code).toBe('E_FTCD_INCONSISTENT_MESSAGE_SIGNATURE')
    expect(e.exitCode).toBe(5)
  })

  it('TCP: a close with no reply means the device rejected the frame', async () => {
    const e = await lwprovFailure(session(plan(creds()), { transport: 'tcp' }, { corruptWriteAt: 200 }))
    expect(e.code).toBe('E_FCC_NO_RESPONSE')
    expect(e.exitCode).toBe(5)
    expect(e.message).toMatch(/without an FCC response/)
  })

  it('a silent device times out (host-owned timeout)', async () => {
    const e = await lwprovFailure(session(plan(creds()), {}, { mute: true }, {}, { ...DEFAULT_TIMEOUTS, commit: 50 }))
    expect(e.code).toBe('E_FCC_TIMEOUT')
    expect(e.exitCode).toBe(5)
  })

  it('Ctrl-C (abort signal) interrupts the wait', async () => {
    const ac = new AbortController()
    setTimeout(() => ac.abort(), 20)
    const e = await lwprovFailure(session(plan(creds()), {}, { mute: true }, { signal: ac.signal }))
    expect(e.code).toBe('E_INTERRUPTED')
    expect(e.exitCode).toBe(130)
  })
})
