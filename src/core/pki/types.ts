import type { KeyObject } from 'node:crypto'

import type { KeyType, SignatureScheme } from './keys.js'
import type { TokenRef } from './pkcs11.js'

/** Signs with a CA key: a decrypted key file in memory, or a key that never leaves its PKCS#11 token. */
export interface CaSigner {
  scheme: SignatureScheme
  /** Signs the bytes (hashing them with `scheme.hash`) and returns the DER signature. Synchronous, like node:crypto. */
  sign(data: Buffer): Buffer
  /** Set for a token key: worker threads open their own session with it. */
  token?: TokenRef & { keyType: string }
  /** Releases the token session. */
  close?(): void
}

/** A CA ready to issue: its certificate, chain and decrypted private key (`loadCa`). */
export interface LoadedCa {
  /** The directory it was loaded from ('' for an in-memory CA). */
  dir: string
  certPem: string
  certDer: Buffer
  /** DER certificates from this CA up to its root (the first is `certDer`). */
  chainDer: Buffer[]
  /** The decrypted key of a file CA; undefined for a token CA (use `signer`). */
  privateKey?: KeyObject
  signer: CaSigner
  /**
   * Called with the number of certificates about to be issued, before any is signed (a delegated line CA's quota in
   * the manifest, see cli/context.ts `bindCaToManifest`); throws to refuse.
   */
  beforeIssue?: (count: number) => Promise<void>
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
