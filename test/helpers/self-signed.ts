/** A throwaway self-signed certificate (CN = endpoint) and its PKCS#8 private key: a host-generated certificate credential. */
import { webcrypto } from 'node:crypto'

import * as x509 from '@peculiar/x509'

export async function selfSigned(endpoint: string, kind: 'ec' | 'rsa'): Promise<{ certificateDer: Uint8Array; privateKeyDer: Uint8Array }> {
  const alg =
    kind === 'ec'
      ? { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
      : { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '03',
    name: `CN=${endpoint}`,
    notBefore: new Date(Date.UTC(2026, 0, 1)),
    notAfter: new Date(Date.UTC(2027, 0, 1)),
    keys,
    signingAlgorithm: alg,
  })
  return { certificateDer: new Uint8Array(cert.rawData), privateKeyDer: new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)) }
}
