import { createPrivateKey, createPublicKey, webcrypto } from 'node:crypto'

import * as x509 from '@peculiar/x509'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import { issueDeviceCertificates, signCsr, type LoadedCa } from '../../../src/core/pki/index.js'
import { makeCa, tempDir } from './helpers.js'

let dir: string
let cleanup: () => void
let root: LoadedCa
let line: LoadedCa
beforeEach(async () => {
  ;({ dir, cleanup } = tempDir())
  root = await makeCa(dir, 'root', { org: 'Acme' })
  line = await makeCa(dir, 'line', { parent: root })
})
afterEach(() => cleanup())

const NOW = new Date(Date.UTC(2030, 5, 1, 12, 0, 0))

describe('issueDeviceCertificates', () => {
  it('issues the device profile: CN, OU, serial, extensions, validity, signature, matching key', async () => {
    const ca = await makeCa(dir, 'fixed', { now: new Date(Date.UTC(2030, 0, 1)), days: 12_784 })
    const certs = await issueDeviceCertificates(ca, [{ endpoint: 'urn:dev:os:320973-0973BA000001', accountId: '016f0a2b' }, { endpoint: 'dev_002' }], { days: 3650, now: NOW })
    expect(certs.map((c) => c.endpoint)).toEqual(['urn:dev:os:320973-0973BA000001', 'dev_002'])
    const caCert = new x509.X509Certificate(ca.certDer)
    for (const issued of certs) {
      const c = new x509.X509Certificate(issued.certificateDer)
      expect(issued.certificatePem).toBe(c.toString('pem') + '\n')
      expect(c.issuer).toBe(caCert.subject)
      expect(await c.verify({ publicKey: caCert, signatureOnly: true })).toBe(true)
      expect(c.signatureAlgorithm).toMatchObject({ name: 'ECDSA', hash: { name: 'SHA-256' } })
      expect(c.getExtension(x509.BasicConstraintsExtension)).toMatchObject({ ca: false, critical: true })
      const ku = c.getExtension(x509.KeyUsagesExtension)!
      expect(ku.critical).toBe(true)
      expect(ku.usages).toBe(x509.KeyUsageFlags.digitalSignature)
      expect(c.getExtension(x509.ExtendedKeyUsageExtension)!.usages).toEqual([x509.ExtendedKeyUsage.clientAuth])
      expect(c.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId).toBe(ca.keyId.toString('hex'))
      const ski = c.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId
      expect(ski).toBe(await c.publicKey.getKeyIdentifier().then((b) => Buffer.from(b).toString('hex')))
      expect(c.notBefore.getTime()).toBe(NOW.getTime() - 60_000)
      expect(c.notAfter.getTime()).toBe(NOW.getTime() + 3650 * 86_400_000)
      expect(issued.notAfter.getTime()).toBe(c.notAfter.getTime())
      expect(issued.serialHex).toBe(c.serialNumber.toLowerCase())
      expect(issued.serialHex).toMatch(/^[0-7][0-9a-f]{31}$/)
      expect(issued.serialHex.slice(0, 2)).not.toBe('00')
      expect(issued.fingerprint).toBe(Buffer.from(await c.getThumbprint('SHA-256')).toString('hex'))
      // The private key is valid PKCS#8 P-256 and belongs to the certificate.
      const key = createPrivateKey({ key: issued.privateKeyDer, format: 'der', type: 'pkcs8' })
      expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1')
      expect(createPublicKey(key).export({ type: 'spki', format: 'der' }).equals(Buffer.from(c.publicKey.rawData))).toBe(true)
    }
    const [first, second] = certs.map((c) => new x509.X509Certificate(c.certificateDer))
    expect(first!.subject).toBe('OU=016f0a2b, CN=urn:dev:os:320973-0973BA000001')
    expect(second!.subject).toBe('CN=dev_002')
  })

  it('chains through an intermediate and gives every certificate a distinct serial', async () => {
    const certs = await issueDeviceCertificates(line, Array.from({ length: 300 }, (_, i) => ({ endpoint: `ep-${i}` })), { days: 30 })
    expect(new Set(certs.map((c) => c.serialHex)).size).toBe(300)
    expect(new Set(certs.map((c) => c.fingerprint)).size).toBe(300)
    const chain = await new x509.X509ChainBuilder({ certificates: [new x509.X509Certificate(line.certDer), new x509.X509Certificate(root.certDer)] }).build(
      new x509.X509Certificate(certs[299]!.certificateDer),
    )
    expect(chain.map((c) => c.subject)).toEqual(['CN=ep-299', 'CN=line', 'O=Acme, CN=root'])
  })

  it('encodes names outside PrintableString as UTF8String', async () => {
    const [c] = await issueDeviceCertificates(line, [{ endpoint: 'sensör_1' }], { days: 1 })
    expect(new x509.X509Certificate(c!.certificateDer).subjectName.getField('CN')).toEqual(['sensör_1'])
    expect(c!.certificateDer.includes(Buffer.from([0x0c, Buffer.byteLength('sensör_1')]))).toBe(true)
  })

  it('signs with the CA key algorithm and never outlives the CA', async () => {
    const p384 = await makeCa(dir, 'p384', { keyType: 'ec-p384', days: 10 })
    const [c] = await issueDeviceCertificates(p384, [{ endpoint: 'a' }], { days: 3650 })
    const cert = new x509.X509Certificate(c!.certificateDer)
    expect(cert.signatureAlgorithm).toMatchObject({ hash: { name: 'SHA-384' } })
    expect(cert.notAfter.getTime()).toBe(p384.notAfter.getTime())
    expect(await cert.verify({ publicKey: new x509.X509Certificate(p384.certDer), signatureOnly: true })).toBe(true)
    const rsa = await makeCa(dir, 'rsa', { keyType: 'rsa-2048' })
    const [r] = await issueDeviceCertificates(rsa, [{ endpoint: 'b' }], { days: 1 })
    expect(await new x509.X509Certificate(r!.certificateDer).verify({ publicKey: new x509.X509Certificate(rsa.certDer), signatureOnly: true })).toBe(true)
  })

  it('rejects bad input', async () => {
    await expect(issueDeviceCertificates(line, [{ endpoint: '' }], { days: 1 })).rejects.toMatchObject({ code: 'E_ENDPOINT_INVALID' })
    await expect(issueDeviceCertificates(line, [{ endpoint: 'a' }], { days: 0 })).rejects.toMatchObject({ code: 'E_DAYS_INVALID' })
    expect(await issueDeviceCertificates(line, [], { days: 1 })).toEqual([])
  })
})

describe('signCsr', () => {
  async function csr(cn: string) {
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
    const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair
    const req = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${cn}`, keys, signingAlgorithm: alg })
    return { der: Buffer.from(req.rawData), spki: Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey)) }
  }

  it('issues the device profile for a CSR key', async () => {
    const { der, spki } = await csr('dev-7')
    const out = await signCsr(line, der, { endpoint: 'dev-7', accountId: 'acc', days: 30 })
    expect('privateKeyDer' in out).toBe(false)
    const c = new x509.X509Certificate(out.certificateDer)
    expect(c.subject).toBe('OU=acc, CN=dev-7')
    expect(Buffer.from(c.publicKey.rawData).equals(spki)).toBe(true)
    expect(c.getExtension(x509.ExtendedKeyUsageExtension)!.usages).toEqual([x509.ExtendedKeyUsage.clientAuth])
    expect(await c.verify({ publicKey: new x509.X509Certificate(line.certDer), signatureOnly: true })).toBe(true)
  })

  it('refuses a CN that is not the endpoint, a broken signature and garbage', async () => {
    const { der } = await csr('dev-7')
    await expect(signCsr(line, der, { endpoint: 'dev-8', days: 1 })).rejects.toMatchObject({ code: 'E_CSR_CN_MISMATCH' })
    const tampered = Buffer.from(der)
    tampered[tampered.length - 5] = tampered[tampered.length - 5]! ^ 0x01
    await expect(signCsr(line, tampered, { endpoint: 'dev-7', days: 1 })).rejects.toMatchObject({ code: 'E_CSR_SIGNATURE', exitCode: 6 })
    await expect(signCsr(line, Buffer.from('nope'), { endpoint: 'dev-7', days: 1 })).rejects.toMatchObject({ code: 'E_CSR_INVALID' })
  })
})
