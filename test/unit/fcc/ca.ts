/** A throwaway test CA for the CSR flow (the pki engineer's signCsr is wired in by the CLI glue). */
import { webcrypto } from 'node:crypto'

import * as x509 from '@peculiar/x509'

import { key } from './vectors.js'

const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
const crypto = webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.create>[1]

export interface TestCa {
  certDer: Buffer
  sign(csrDer: Uint8Array, opts?: { ou?: string; clientAuth?: boolean; cn?: string; notAfter?: Date }): Promise<Buffer>
  issue(opts: { cn: string; ou?: string; clientAuth?: boolean; notAfter?: Date }): Promise<{ certDer: Buffer; keyDer: Buffer }>
}

async function makeCa(caKey: webcrypto.CryptoKey, caCert: x509.X509Certificate): Promise<TestCa> {
  let serial = 0x1000
  const issueFor = async (publicKey: webcrypto.CryptoKey, cn: string, o: { ou?: string; clientAuth?: boolean; notAfter?: Date }) => {
    const name = o.ou ? `CN=${cn}, OU=${o.ou}` : `CN=${cn}`
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: (serial++).toString(16),
        subject: name,
        issuer: caCert.subject,
        notBefore: new Date('2026-11-01T00:00:00Z'),
        notAfter: o.notAfter ?? new Date('2056-11-01T00:00:00Z'),
        signingAlgorithm: alg,
        publicKey: publicKey as never,
        signingKey: caKey as never,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          ...(o.clientAuth === false ? [] : [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])]),
        ],
      },
      crypto,
    )
    return Buffer.from(cert.rawData)
  }
  return {
    certDer: Buffer.from(caCert.rawData),
    async sign(csrDer, o = {}) {
      const csr = new x509.Pkcs10CertificateRequest(Buffer.from(csrDer))
      if (!(await csr.verify(crypto))) throw new Error('bad CSR signature')
      const cn = o.cn ?? csr.subjectName.getField('CN')[0]!
      return issueFor((await csr.publicKey.export(crypto)) as never, cn, o)
    },
    async issue(o) {
      const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair
      const certDer = await issueFor(keys.publicKey, o.cn, o)
      const keyDer = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey))
      return { certDer, keyDer }
    },
  }
}

/** The vectors' TEST-ONLY device CA (keys/test-device-ca.*). */
export async function vectorDeviceCa(): Promise<TestCa> {
  const caKey = await webcrypto.subtle.importKey('pkcs8', key('test-device-ca.key.pkcs8.der'), alg, false, ['sign'])
  return makeCa(caKey, new x509.X509Certificate(key('test-device-ca.cert.der')))
}

/** A fresh self-signed throwaway CA. */
export async function throwawayCa(): Promise<TestCa> {
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '01',
      name: 'CN=lwprov throwaway test CA',
      notBefore: new Date('2026-01-01T00:00:00Z'),
      notAfter: new Date('2061-01-01T00:00:00Z'),
      signingAlgorithm: alg,
      keys: keys as never,
      extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
    },
    crypto,
  )
  return makeCa(keys.privateKey, cert)
}
