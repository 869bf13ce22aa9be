/**
 * The gcc-built reference receiver (templates/firmware) against the host protocol through a real PTY and the real
 * serialport binding: what a firmware team gets when they drop lwprov_receiver.c into a factory image.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { createHash, webcrypto } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import * as x509 from '@peculiar/x509'
import { SerialPort } from 'serialport'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LwprovError } from '../../../src/core/errors.js'
import { LwprovProtocol } from '../../../src/core/inject/lwprov/index.js'
import type { ByteLink, InjectionPlan, Timeouts } from '../../../src/core/inject/types.js'
import { buildLwm2mConfig, encodeSenmlCbor } from '../../../src/core/lwm2m/index.js'
import type { CredentialSet } from '../../../src/core/model.js'
import { selfSigned } from '../../helpers/self-signed.js'

const FIRMWARE = path.resolve('templates/firmware')
const DEVICE = path.join(FIRMWARE, 'build/lwprov-device')
const TIMEOUTS: Timeouts = { identify: 2000, frame: 2000, commit: 10_000, total: 60_000 }

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lwprov-fw-'))
const children: ChildProcess[] = []

async function waitFor(p: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!fs.existsSync(p)) {
    if (Date.now() > end) throw new Error(`${p} did not appear`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function startDevice(name: string, extra: string[] = []): Promise<{ link: string; store: string; out: () => string; proc: ChildProcess }> {
  const link = path.join(tmp, `${name}.tty`)
  const store = path.join(tmp, `${name}.cbor`)
  let out = ''
  const proc = spawn(DEVICE, ['--link', link, '--store', store, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] })
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  children.push(proc)
  await waitFor(link)
  return { link, store, out: () => out, proc }
}

/** The real serialport binding as a ByteLink. */
async function openLink(p: string): Promise<ByteLink> {
  const port = new SerialPort({ path: p, baudRate: 115200, autoOpen: false })
  await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())))
  return {
    description: p,
    write: (data) =>
      new Promise<void>((res, rej) => {
        port.write(Buffer.from(data), (e) => (e ? rej(e) : port.drain((e2) => (e2 ? rej(e2) : res()))))
      }),
    onData(l) {
      port.on('data', l)
      return () => port.off('data', l)
    },
    onClose(l) {
      const h = (e?: Error | null) => l(e ?? undefined)
      port.on('close', h)
      return () => port.off('close', h)
    },
    flushInput: () => new Promise<void>((res) => port.flush(() => res())),
    close: () => new Promise<void>((res) => (port.isOpen ? port.close(() => res()) : res())),
  }
}

function psk(endpoint: string): CredentialSet {
  return {
    endpoint,
    mode: 'direct',
    security: 'psk',
    serverUri: 'coaps://lwm2m.example.com:5684',
    pskIdentity: endpoint,
    psk: Buffer.from('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', 'hex'),
    shortServerId: 1,
    lifetime: 86400,
    binding: 'U',
    notificationStoring: false,
  }
}

const senml = (c: CredentialSet) => encodeSenmlCbor(buildLwm2mConfig(c))


beforeAll(() => {
  execFileSync('make', ['-C', FIRMWARE], { stdio: 'pipe' })
}, 120_000)

afterAll(() => {
  for (const c of children) c.kill('SIGTERM')
  fs.rmSync(tmp, { recursive: true, force: true })
})

describe('templates/firmware', () => {
  it('the C self-test passes', () => {
    const out = execFileSync(path.join(FIRMWARE, 'build/lwprov-selftest')).toString()
    expect(out).toContain('lwprov selftest: ok')
  })

  it('the C self-test passes under AddressSanitizer/UBSan', () => {
    const out = execFileSync('make', ['-s', '-C', FIRMWARE, 'sanitize'], { stdio: 'pipe' }).toString()
    expect(out).toContain('lwprov selftest: ok')
  })

  it('lwprov-device stores exactly the payload sent and its read-back digest matches (two sessions, re-opened port)', async () => {
    const dev = await startDevice('psk', ['--serial', 'FW-0001', '--imei', '490154203237518'])
    const proto = new LwprovProtocol()
    const logs: string[] = []

    const link = await openLink(dev.link)
    try {
      const id = await proto.identify(link, TIMEOUTS, {})
      expect(id).toMatchObject({ serial: 'FW-0001', imei: '490154203237518', protocolVersion: 2, maxFrame: 1024 })
      expect(id.capabilities).toContain('senml-cbor')
      const creds = psk('urn:dev:os:0973-FW0001')
      const plan: InjectionPlan = { endpoint: creds.endpoint, credentials: creds, now: new Date() }
      const r = await proto.provision(link, plan, TIMEOUTS, { onDeviceLog: (l) => logs.push(l) })
      const payload = senml(creds)
      expect(r.verified).toBe(true)
      expect(fs.readFileSync(dev.store)).toEqual(payload)
      expect(r.readbackDigest).toBe(createHash('sha256').update(payload).digest('hex'))
      // protocol v2: the C receiver proved it holds the stored PSK (prove() with OpenSSL HMAC, reloaded from --store)
      expect(r.proof).toBe('pop-hmac')
      expect(logs.join('\n')).toContain('payload committed')
      expect(logs.join('\n')).toContain('proving possession of the stored credential')
    } finally {
      await link.close()
    }

    // A second host session on the re-opened port replaces the configuration.
    const link2 = await openLink(dev.link)
    try {
      const creds = { ...psk('urn:dev:os:0973-FW0002'), serverUri: 'coaps://other.example.com:5684' }
      const r = await proto.provision(link2, { endpoint: creds.endpoint, credentials: creds, now: new Date() }, TIMEOUTS, {})
      expect(r.verified).toBe(true)
      expect(fs.readFileSync(dev.store)).toEqual(senml(creds))
    } finally {
      await link2.close()
    }
    expect(dev.out()).toContain('session started')
  })

  it('the receiver ignores line noise and half frames from the host side before HELLO', async () => {
    const dev = await startDevice('noise', ['--serial', 'FW-NOISE'])
    const link = await openLink(dev.link)
    try {
      await link.write(Buffer.from('AT\r\n\xaaLW\xaaLWP\x01\x02garbage\r\n', 'latin1'))
      const id = await new LwprovProtocol().identify(link, TIMEOUTS, {})
      expect(id.serial).toBe('FW-NOISE')
    } finally {
      await link.close()
    }
  })

  it('a refusing device ends E_DEVICE_REFUSED and stores nothing', async () => {
    const dev = await startDevice('refuse', ['--refuse'])
    const link = await openLink(dev.link)
    try {
      const creds = psk('urn:dev:os:0973-FW0003')
      const err = await new LwprovProtocol()
        .provision(link, { endpoint: creds.endpoint, credentials: creds, now: new Date() }, TIMEOUTS, {})
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(LwprovError)
      expect((err as LwprovError).code).toBe('E_DEVICE_REFUSED')
      expect((err as LwprovError).message).toContain(dev.link)
      expect(fs.existsSync(dev.store)).toBe(false)
    } finally {
      await link.close()
    }
  })

  it('on-device key generation: CSR from the device, signed by a throwaway CA, certificate committed', async () => {
    const dev = await startDevice('keygen', ['--serial', 'FW-KEY'])
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
    const caKeys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair
    const ca = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=throwaway firmware test CA',
      notBefore: new Date(Date.UTC(2026, 0, 1)),
      notAfter: new Date(Date.UTC(2027, 0, 1)),
      keys: caKeys,
      signingAlgorithm: alg,
      extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
    })
    const endpoint = 'urn:dev:os:0973-FWKEY'
    const creds: CredentialSet = { ...psk(endpoint), security: 'cert', psk: undefined, pskIdentity: undefined }
    const link = await openLink(dev.link)
    try {
      const r = await new LwprovProtocol().provision(
        link,
        {
          endpoint,
          credentials: creds,
          now: new Date(),
          signCsr: async (der) => {
            const csr = new x509.Pkcs10CertificateRequest(der)
            expect(await csr.verify()).toBe(true)
            expect(csr.subject).toBe(`CN=${endpoint}`)
            const leaf = await x509.X509CertificateGenerator.create({
              serialNumber: '02',
              subject: csr.subject,
              issuer: ca.subject,
              notBefore: new Date(Date.UTC(2026, 0, 1)),
              notAfter: new Date(Date.UTC(2027, 0, 1)),
              publicKey: csr.publicKey,
              signingKey: caKeys.privateKey,
              signingAlgorithm: alg,
            })
            return { certificateDer: new Uint8Array(leaf.rawData), chainDer: [new Uint8Array(ca.rawData)] }
          },
        },
        TIMEOUTS,
        {},
      )
      expect(r.verified).toBe(true)
      // The device signed the challenge with the key it generated and kept (FILE.key), verified with the CSR's key.
      expect(r.proof).toBe('pop-signature')
      const stored = fs.readFileSync(dev.store)
      expect(stored).toEqual(senml({ ...creds, certificateDer: r.certificateDer! }))
      // The generated private key stays on the device, next to the store; the certificate matches it.
      const keyPem = fs.readFileSync(`${dev.store}.key`, 'utf8')
      expect(fs.statSync(`${dev.store}.key`).mode & 0o077).toBe(0)
      const leaf = new x509.X509Certificate(r.certificateDer!)
      const pub = Buffer.from(leaf.publicKey.rawData)
      const { createPrivateKey, createPublicKey } = await import('node:crypto')
      const derived = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' })
      expect(Buffer.from(derived)).toEqual(pub)
    } finally {
      await link.close()
    }
  })

  it('protocol v2 with a host-generated key (EC and RSA): the device signs the challenge with the stored /0/x/5 key', async () => {
    for (const kind of ['ec', 'rsa'] as const) {
      const dev = await startDevice(`hostkey-${kind}`, ['--serial', `FW-HK-${kind}`])
      const endpoint = `urn:dev:os:0973-HK${kind.toUpperCase()}`
      const { certificateDer, privateKeyDer } = await selfSigned(endpoint, kind)
      const creds: CredentialSet = { ...psk(endpoint), security: 'cert', psk: undefined, pskIdentity: undefined, certificateDer, privateKeyDer }
      const link = await openLink(dev.link)
      try {
        const r = await new LwprovProtocol().provision(link, { endpoint, credentials: creds, now: new Date() }, TIMEOUTS, {})
        expect(r.verified).toBe(true)
        expect(r.proof).toBe('pop-signature')
        expect(fs.readFileSync(dev.store)).toEqual(senml(creds))
      } finally {
        await link.close()
      }
    }
  })

  it('a device whose stored key is not the certificate\'s fails the proof: E_PROOF_MISMATCH, never verified', async () => {
    const dev = await startDevice('wrongkey', ['--serial', 'FW-WRONG'])
    const endpoint = 'urn:dev:os:0973-WRONG'
    const a = await selfSigned(endpoint, 'ec')
    const b = await selfSigned(endpoint, 'ec')
    // The payload carries key B, the host checks against certificate A: what a device that kept an old key looks like.
    const stored: CredentialSet = { ...psk(endpoint), security: 'cert', psk: undefined, pskIdentity: undefined, certificateDer: a.certificateDer, privateKeyDer: b.privateKeyDer }
    const link = await openLink(dev.link)
    try {
      const err = await new LwprovProtocol({ encodePayload: () => senml(stored) })
        .provision(link, { endpoint, credentials: { ...stored, privateKeyDer: a.privateKeyDer }, now: new Date() }, TIMEOUTS, {})
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(LwprovError)
      expect((err as LwprovError).code).toBe('E_PROOF_MISMATCH')
      expect((err as LwprovError).exitCode).toBe(4)
    } finally {
      await link.close()
    }
  })

  it('an old receiver (built without prove: --no-prove) still works, as protocol v1 with the weaker digest proof', async () => {
    const dev = await startDevice('v1', ['--serial', 'FW-V1', '--no-prove'])
    const link = await openLink(dev.link)
    try {
      const proto = new LwprovProtocol()
      const id = await proto.identify(link, TIMEOUTS, {})
      expect(id.protocolVersion).toBe(1)
      const creds = psk('urn:dev:os:0973-FWV1')
      const r = await proto.provision(link, { endpoint: creds.endpoint, credentials: creds, now: new Date() }, TIMEOUTS, {})
      expect(r.verified).toBe(true)
      expect(r.proof).toBe('digest')
      expect(dev.out()).not.toContain('proving possession')
    } finally {
      await link.close()
    }
  })

  it('removes its --link on SIGTERM', async () => {
    const dev = await startDevice('term')
    const exited = new Promise<void>((res) => dev.proc.once('exit', () => res()))
    dev.proc.kill('SIGTERM')
    await exited
    expect(fs.existsSync(dev.link)).toBe(false)
  })
})
