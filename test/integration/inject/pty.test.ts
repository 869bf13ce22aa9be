/**
 * Injection through the real serialport binding over pseudo-terminals (and TCP for FCC): the lwprov and FCC
 * simulators, and the gcc-built reference C receiver.
 */
import { spawn, spawnSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'

import { openSerialLink } from '../../../src/adapters/serial-link.js'
import { openTcpLink } from '../../../src/adapters/tcp-link.js'
import { FccProtocol } from '../../../src/core/inject/fcc/index.js'
import { LwprovProtocol } from '../../../src/core/inject/lwprov/index.js'
import { injectOne, type InjectOptions } from '../../../src/core/inject/session.js'
import type { ManifestStore } from '../../../src/core/manifest/types.js'
import type { DeviceInfo } from '../../../src/core/model.js'
import { createCa } from '../../../src/core/pki/index.js'
import { ROOT } from '../../helpers/cli.js'
import { cleanupSims, hasSocat, startSim, tempDir } from '../../helpers/pty.js'
import { MASTER_KEY, profile, testCa } from '../../unit/inject/fixtures.js'
import { openTestStore } from './store.js'

const AID = '0123456789abcdef0123456789abcdef'
const INFO: DeviceInfo = { manufacturer: 'Acme', modelNumber: 'M1', deviceType: 'sensor', hardwareVersion: '1.0', memoryTotalKb: 512, serialNumber: 'SN-0001' }

let dir: string
let store: ManifestStore
let serverCaDer: Buffer

beforeAll(async () => {
  dir = tempDir('lwprov-inject-int-')
  store = await openTestStore(dir)
  const sca = await createCa({ name: 'Test Server CA', keyType: 'ec-p256', days: 3650 })
  serverCaDer = Buffer.from(new X509Certificate(sca.certPem).raw)
})
afterEach(async () => cleanupSims())
afterAll(async () => store.close())

const serial = (link: string): InjectOptions['connect'] => () => openSerialLink(link)

describe('lwprov protocol over a PTY (lwprov sim)', () => {
  it('PSK direct', async () => {
    const s = await startSim({ protocol: 'lwprov', serial: 'PTY-0001' })
    const out = await injectOne({ connect: serial(s.link!), protocol: new LwprovProtocol(), store, profile: profile({ mode: 'direct', security: 'psk' }), masterKey: MASTER_KEY, endpoint: 'urn:dev:ops:32473-Pty-{serial}' })
    expect(out).toMatchObject({ endpoint: 'urn:dev:ops:32473-Pty-PTY-0001', status: 'verified', deviceId: 'PTY-0001', port: s.link })
    expect((await store.get(out.endpoint))!).toMatchObject({ status: 'verified', readbackDigest: out.readbackDigest, deviceId: 'PTY-0001' })
  })

  it('certificate bootstrap with a host-generated key', async () => {
    const { ca } = await testCa()
    const s = await startSim({ protocol: 'lwprov', serial: 'PTY-0002' })
    const out = await injectOne({ connect: serial(s.link!), protocol: new LwprovProtocol(), store, ca, profile: profile({ mode: 'bootstrap', security: 'cert', serverCaDer }), endpoint: 'pty-cert-0002' })
    const row = (await store.get(out.endpoint))!
    expect(row.status).toBe('verified')
    expect(row.secret ?? null).toBeNull()
    expect(row.fingerprint).toBe(out.fingerprint)
  })

  it('on-device CSR: the key stays on the device', async () => {
    const { ca } = await testCa()
    const s = await startSim({ protocol: 'lwprov', serial: 'PTY-0003' })
    const out = await injectOne({ connect: serial(s.link!), protocol: new LwprovProtocol(), store, ca, deviceKeygen: true, profile: profile({ mode: 'direct', security: 'cert' }), endpoint: 'pty-csr-0003' })
    expect(out.deviceKeygen).toBe(true)
    const row = (await store.get(out.endpoint))!
    expect(new X509Certificate(row.certificatePem!).verify(new X509Certificate(ca.certDer).publicKey)).toBe(true)
  })

  it('paced to 115200 baud, with a renewing device that reappears with the next serial', async () => {
    const s = await startSim({ protocol: 'lwprov', serial: 'REN-0001', renew: true, baud: 115200 })
    const renewed = new Promise<string>((r) => s.sim.once('renew', r))
    const a = await injectOne({ connect: serial(s.link!), protocol: new LwprovProtocol(), store, profile: profile({ mode: 'direct', security: 'psk' }), masterKey: MASTER_KEY, endpoint: 'ren-{serial}' })
    expect(a.deviceId).toBe('REN-0001')
    expect(await renewed).toBe('REN-0002')
    // The PTY was re-created: wait for the link to point at a live tty again, then provision the "next board".
    for (let i = 0; i < 50 && !fs.existsSync(s.link!); i++) await new Promise((r) => setTimeout(r, 20))
    const b = await injectOne({ connect: serial(s.link!), protocol: new LwprovProtocol(), store, profile: profile({ mode: 'direct', security: 'psk' }), masterKey: MASTER_KEY, endpoint: 'ren-{serial}' })
    expect(b.endpoint).toBe('ren-REN-0002')
  })
})

describe('proof of possession (protocol v2) over a PTY (lwprov sim)', () => {
  const pskOpts = (link: string, endpoint: string): InjectOptions => ({ connect: serial(link), protocol: new LwprovProtocol(), store, profile: profile({ mode: 'direct', security: 'psk' }), masterKey: MASTER_KEY, endpoint })

  it('v2 (default) PSK: verified with pop-hmac, recorded in the manifest', async () => {
    const s = await startSim({ protocol: 'lwprov', serial: 'POP-0001' })
    const out = await injectOne(pskOpts(s.link!, 'pop-psk-0001'))
    expect(out.proof).toBe('pop-hmac')
    expect((await store.get('pop-psk-0001'))!).toMatchObject({ status: 'verified', proof: 'pop-hmac' })
  })

  it('v2 certificate, host-generated key and on-device key: verified with pop-signature', async () => {
    const { ca } = await testCa()
    const a = await startSim({ protocol: 'lwprov', serial: 'POP-0002' })
    const host = await injectOne({ connect: serial(a.link!), protocol: new LwprovProtocol(), store, ca, profile: profile({ mode: 'bootstrap', security: 'cert', serverCaDer }), endpoint: 'pop-cert-0002' })
    expect(host.proof).toBe('pop-signature')
    const b = await startSim({ protocol: 'lwprov', serial: 'POP-0003' })
    const dev = await injectOne({ connect: serial(b.link!), protocol: new LwprovProtocol(), store, ca, deviceKeygen: true, profile: profile({ mode: 'direct', security: 'cert' }), endpoint: 'pop-csr-0003' })
    expect(dev).toMatchObject({ deviceKeygen: true, proof: 'pop-signature' })
    expect((await store.get('pop-csr-0003'))!.proof).toBe('pop-signature')
  })

  it('an old (v1) device still works and is recorded with the weaker digest proof', async () => {
    const s = await startSim({ protocol: 'lwprov', serial: 'POP-V1', protocolVersion: 1 })
    const out = await injectOne(pskOpts(s.link!, 'pop-v1-0001'))
    expect(out).toMatchObject({ status: 'verified', proof: 'digest' })
    expect((await store.get('pop-v1-0001'))!.proof).toBe('digest')
  })

  it('a liar (acks everything, stores nothing, echoes digests, fakes the proof) ends failed with v2, never verified', async () => {
    const stored: Buffer[] = []
    const s = await startSim({ protocol: 'lwprov', serial: 'LIAR-0001', fault: { kind: 'liar' } })
    s.sim.on('stored', (e: { bytes: Buffer }) => stored.push(e.bytes))
    const err = await injectOne(pskOpts(s.link!, 'pop-liar-0001')).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'E_PROOF_MISMATCH', exitCode: 4 })
    expect(stored).toEqual([])
    const row = (await store.get('pop-liar-0001'))!
    expect(row.status).toBe('failed')
    expect(row.proof ?? null).toBeNull()
  })

  it('the same liar as a v1 device cannot be told apart: verified, but only with the digest proof', async () => {
    const s = await startSim({ protocol: 'lwprov', serial: 'LIAR-V1', fault: { kind: 'liar' }, protocolVersion: 1 })
    const out = await injectOne(pskOpts(s.link!, 'pop-liar-v1'))
    expect(out).toMatchObject({ status: 'verified', proof: 'digest' })
  })
})

describe('PTY engines', () => {
  // CI installs socat: the fallback engine must work too (sessions end only with a hang-up there).
  it.runIf(hasSocat())('the socat engine carries a whole session, and a hang-up brings a fresh PTY', async () => {
    const s = await startSim({ protocol: 'lwprov', serial: 'SOCAT-0001', engine: 'socat', fault: { kind: 'drop', at: 50, once: true } })
    const opts = { connect: serial(s.link!), protocol: new LwprovProtocol(), store, profile: profile({ mode: 'direct', security: 'psk' }), masterKey: MASTER_KEY, endpoint: 'socat-0001', retries: 3, retryDelayMs: 500 }
    const out = await injectOne(opts)
    expect(out).toMatchObject({ status: 'verified', deviceId: 'SOCAT-0001' })
    expect(out.attempts).toBeGreaterThan(1)
  })
})

describe('Izuma FCC (fcc sim)', () => {
  const fccProfile = () => profile({ mode: 'bootstrap', security: 'cert', serverUri: `coaps://bootstrap.example.com:5684?aid=${AID}`, serverCaDer })

  it('bootstrap certificate over TCP', async () => {
    const { ca } = await testCa()
    const s = await startSim({ protocol: 'fcc', tcp: true })
    const out = await injectOne({
      connect: () => openTcpLink(`127.0.0.1:${s.port}`),
      protocol: new FccProtocol(),
      store,
      ca,
      profile: fccProfile(),
      deviceInfo: INFO,
      identity: { serial: 'SN-TCP-1' },
      endpoint: 'fcctcp0001',
    })
    expect(out).toMatchObject({ status: 'verified', protocol: 'fcc', deviceId: 'SN-TCP-1', port: `tcp://127.0.0.1:${s.port}`, proof: 'fcc-status' })
    expect((await store.get('fcctcp0001'))!).toMatchObject({ status: 'verified', proof: 'fcc-status' })
  })

  it('bootstrap certificate over a PTY (log text on the line)', async () => {
    const { ca } = await testCa()
    const s = await startSim({ protocol: 'fcc' })
    const out = await injectOne({ connect: serial(s.link!), protocol: new FccProtocol(), store, ca, profile: fccProfile(), deviceInfo: INFO, identity: { serial: 'SN-PTY-1' }, endpoint: 'fccpty0001' })
    expect(out.status).toBe('verified')
  })

  it('on-device CSR over TCP', async () => {
    const { ca } = await testCa()
    const s = await startSim({ protocol: 'fcc', tcp: true })
    const out = await injectOne({
      connect: () => openTcpLink(`127.0.0.1:${s.port}`),
      protocol: new FccProtocol(),
      store,
      ca,
      deviceKeygen: true,
      profile: fccProfile(),
      deviceInfo: INFO,
      identity: { serial: 'SN-TCP-2' },
      endpoint: 'fcccsr0002',
    })
    expect(out.deviceKeygen).toBe(true)
    const row = (await store.get('fcccsr0002'))!
    expect(row.status).toBe('verified')
    expect(new X509Certificate(row.certificatePem!).subject).toContain('CN=fcccsr0002')
  })

  it('a refusing FCC device ends failed with its status', async () => {
    const { ca } = await testCa()
    const s = await startSim({ protocol: 'fcc', tcp: true, fault: { kind: 'refuse' } })
    await expect(
      injectOne({ connect: () => openTcpLink(`127.0.0.1:${s.port}`), protocol: new FccProtocol(), store, ca, profile: fccProfile(), deviceInfo: INFO, identity: { serial: 'SN-TCP-3' }, endpoint: 'fccref0003' }),
    ).rejects.toMatchObject({ exitCode: 4 })
    expect((await store.get('fccref0003'))!).toMatchObject({ status: 'failed', deviceId: 'SN-TCP-3' })
  })
})

describe('reference C receiver (gcc-built lwprov-device)', () => {
  const fw = path.join(ROOT, 'templates/firmware')
  const exe = path.join(fw, 'build/lwprov-device')
  const built = fs.existsSync(path.join(fw, 'Makefile')) && spawnSync('make', ['-C', fw], { stdio: 'ignore' }).status === 0 && fs.existsSync(exe)

  async function device(args: string[]): Promise<{ link: string; store: string; stop: () => Promise<void> }> {
    const d = tempDir('lwprov-cdev-')
    const link = path.join(d, 'dev')
    const storeFile = path.join(d, 'store.bin')
    const p = spawn(exe, ['--link', link, '--store', storeFile, ...args], { stdio: 'ignore' })
    for (let i = 0; i < 200 && !fs.existsSync(link); i++) await new Promise((r) => setTimeout(r, 25))
    expect(fs.existsSync(link)).toBe(true)
    return {
      link,
      store: storeFile,
      stop: () =>
        new Promise<void>((r) => {
          if (p.exitCode !== null) return r()
          p.once('exit', () => r())
          p.kill('SIGTERM')
        }),
    }
  }

  it.runIf(built)('PSK direct into the C receiver, payload stored', async () => {
    const d = await device(['--serial', 'C-0001'])
    try {
      const out = await injectOne({ connect: serial(d.link), protocol: new LwprovProtocol(), store, profile: profile({ mode: 'direct', security: 'psk' }), masterKey: MASTER_KEY, endpoint: 'c-{serial}' })
      // protocol v2: the C receiver proved possession of the stored PSK (OpenSSL HMAC in the host build's prove())
      expect(out).toMatchObject({ endpoint: 'c-C-0001', status: 'verified', deviceId: 'C-0001', proof: 'pop-hmac' })
      expect((await store.get('c-C-0001'))!.proof).toBe('pop-hmac')
      expect(fs.statSync(d.store).size).toBeGreaterThan(0)
    } finally {
      await d.stop()
    }
  })

  it.runIf(built)('certificate bootstrap and on-device CSR into the C receiver', async () => {
    const { ca } = await testCa()
    const d = await device(['--serial', 'C-0002'])
    try {
      const a = await injectOne({ connect: serial(d.link), protocol: new LwprovProtocol(), store, ca, profile: profile({ mode: 'bootstrap', security: 'cert', serverCaDer }), endpoint: 'c-cert-0002' })
      expect(a).toMatchObject({ status: 'verified', proof: 'pop-signature' })
      // Re-provisioning the same device with an on-device key replaces what it holds, under the same endpoint.
      const hasOpenssl = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0
      if (hasOpenssl) {
        // a verified device gets new credentials only when asked (issue 10): without it, a serial collision
        await expect(
          injectOne({ connect: serial(d.link), protocol: new LwprovProtocol(), store, ca, deviceKeygen: true, profile: profile({ mode: 'bootstrap', security: 'cert', serverCaDer }), endpoint: 'c-cert-0002' }),
        ).rejects.toMatchObject({ code: 'E_SERIAL_COLLISION' })
        const b = await injectOne({ connect: serial(d.link), protocol: new LwprovProtocol(), store, ca, deviceKeygen: true, reprovision: { reason: 'on-device key' }, profile: profile({ mode: 'bootstrap', security: 'cert', serverCaDer }), endpoint: 'c-cert-0002' })
        expect(b).toMatchObject({ deviceKeygen: true, proof: 'pop-signature' })
        const row = (await store.get('c-cert-0002'))!
        expect(row.status).toBe('verified')
        expect(row.fingerprint).toBe(b.fingerprint)
        expect(row.fingerprint).not.toBe(a.fingerprint)
      }
    } finally {
      await d.stop()
    }
  })

  it.runIf(built)('a C receiver built without prove() is a v1 device: verified with the weaker digest proof', async () => {
    const d = await device(['--serial', 'C-0004', '--no-prove'])
    try {
      const out = await injectOne({ connect: serial(d.link), protocol: new LwprovProtocol(), store, profile: profile({ mode: 'direct', security: 'psk' }), masterKey: MASTER_KEY, endpoint: 'c-v1-0004' })
      expect(out).toMatchObject({ status: 'verified', proof: 'digest' })
    } finally {
      await d.stop()
    }
  })

  it.runIf(built)('a C receiver that refuses ends failed', async () => {
    const d = await device(['--serial', 'C-0003', '--refuse'])
    try {
      await expect(
        injectOne({ connect: serial(d.link), protocol: new LwprovProtocol(), store, profile: profile({ mode: 'direct', security: 'psk' }), masterKey: MASTER_KEY, endpoint: 'c-ref-0003' }),
      ).rejects.toMatchObject({ code: 'E_DEVICE_REFUSED' })
      expect((await store.get('c-ref-0003'))!.status).toBe('failed')
    } finally {
      await d.stop()
    }
  })
})
