import type { KeyObject } from 'node:crypto'

import type { KeyType } from './keys.js'

/** A CA ready to issue: its certificate, chain and decrypted private key (`loadCa`). */
export interface LoadedCa {
  /** The directory it was loaded from ('' for an in-memory CA). */
  dir: string
  certPem: string
  certDer: Buffer
  /** DER certificates from this CA up to its root (the first is `certDer`). */
  chainDer: Buffer[]
  privateKey: KeyObject
  /** Subject as text, e.g. `CN=Line 1 CA, O=Acme`. */
  subject: string
  issuer: string
  /** The subject Name DER, verbatim from the certificate (device certificates copy it as their issuer). */
  subjectDer: Buffer
  /** Subject key identifier (from the extension, else computed from the key). */
  keyId: Buffer
  /** `ec-p256`, `ec-p384`, `rsa-2048`, `rsa-3072`, or a descriptive name for imported keys. */
  keyType: KeyType | string
  notBefore: Date
  notAfter: Date
  /** basicConstraints pathLenConstraint; undefined when unlimited. */
  pathLen: number | undefined
  /** Lower-case hex SHA-256 of the certificate DER. */
  fingerprint: string
}

/** One issued device credential. The private key is PKCS#8 DER and must be sealed before it is stored. */
export interface IssuedCertificate {
  endpoint: string
  certificateDer: Buffer
  certificatePem: string
  privateKeyDer: Buffer
  /** Lower-case hex, 32 digits. */
  serialHex: string
  /** Lower-case hex SHA-256 of the certificate DER. */
  fingerprint: string
  notAfter: Date
}
