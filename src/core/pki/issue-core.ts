/**
 * The per-certificate hot path of device issuing, shared by the main thread and the worker threads. Everything that
 * is the same for a whole batch (algorithm, issuer Name, validity, constant extensions, their framing) is encoded once
 * in the constructor; a certificate then costs one P-256 key generation, one SHA-1, one signature and a few
 * `Buffer.concat`s. No I/O, no imports beyond node:crypto, so a worker can load it cheaply.
 */
import { createECDH, createHash, randomBytes, sign, type KeyObject } from 'node:crypto'

import { akiValue, basicConstraintsValue, EKU_CLIENT_AUTH, extension, KU_DEVICE, OID_EXT } from './cert.js'
import { bitString, derLength, dirString, explicit, intDer, oid, seq, set, timeDer, tlv } from './der.js'
import { publicKeyBits } from './keys.js'
import type { TokenRef } from './pkcs11.js'
import { derToPem, randomSerial, sha256Hex } from './util.js'

/** Everything a worker needs to issue for one CA and batch (structured-clone friendly: KeyObject + Buffers). */
export interface DeviceProfileSpec {
  /** A file CA's key (workers sign with it directly). */
  caKey?: KeyObject
  /** A token CA's key reference: each worker thread opens its own session on the token. */
  token?: TokenRef & { keyType: string }
  hash: string
  signatureAlgorithm: Buffer
  /** The CA certificate's subject Name, verbatim. */
  issuer: Buffer
  /** The CA's subject key identifier (becomes the device AKI). */
  caKeyId: Buffer
  notBefore: number
  notAfter: number
}

/** One device to issue for. */
export interface DeviceRequest {
  endpoint: string
  accountId?: string
}

/** What the hot path returns for one device. */
export interface RawIssued {
  certificateDer: Buffer
  privateKeyDer?: Buffer
  serialHex: string
}

const SERIAL_BYTES = 16
const V3 = explicit(0, intDer(2))
const OID_CN = oid('2.5.4.3')
const OID_OU = oid('2.5.4.11')
const SKI_LEN = 20
// P-256 keys are made with ECDH.generateKeys and framed by these fixed DER prefixes: generateKeyPairSync with DER
// output spends most of its time in OpenSSL's encoders (~4,500 keys/s here against ~40,000 for ECDH), and both
// encodings are constant apart from the key bytes. Layout as OpenSSL 3 writes it (RFC 5480 SPKI; RFC 5208 PKCS#8
// around an RFC 5915 ECPrivateKey with the public key and without the redundant parameters).
const SPKI_P256_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex')
const PKCS8_P256_PREFIX = Buffer.from('308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420', 'hex')
const PKCS8_P256_MIDDLE = Buffer.from('a144034200', 'hex')

/** A fresh P-256 key pair as SPKI and PKCS#8 DER. */
export function generateP256Der(): { spki: Buffer; pkcs8: Buffer } {
  const ecdh = createECDH('prime256v1')
  const pub = ecdh.generateKeys()
  let priv = ecdh.getPrivateKey()
  if (priv.length < 32) priv = Buffer.concat([Buffer.alloc(32 - priv.length), priv])
  return {
    spki: Buffer.concat([SPKI_P256_PREFIX, pub]),
    pkcs8: Buffer.concat([PKCS8_P256_PREFIX, priv, PKCS8_P256_MIDDLE, pub]),
  }
}

export class DeviceIssuer {
  private readonly middle: Buffer
  private readonly extHead: Buffer
  private readonly extTail: Buffer
  private readonly ouRdn = new Map<string, Buffer>()

  private readonly signFn: (tbs: Buffer) => Buffer

  /** `signer` signs a TBSCertificate; default: node:crypto with `spec.caKey`. */
  constructor(private readonly spec: DeviceProfileSpec, signer?: (tbs: Buffer) => Buffer) {
    this.signFn = signer ?? ((tbs) => sign(spec.hash, tbs, { key: spec.caKey!, dsaEncoding: 'der' }))
    const validity = seq(timeDer(new Date(spec.notBefore)), timeDer(new Date(spec.notAfter)))
    this.middle = Buffer.concat([spec.signatureAlgorithm, spec.issuer, validity])
    // Extensions: basicConstraints, keyUsage, EKU, SKI (varies, fixed length), AKI. The SKI extension is split so
    // that only its 20 key-id bytes are spliced in per certificate.
    const ski = extension(OID_EXT.subjectKeyIdentifier, false, tlv(0x04, Buffer.alloc(SKI_LEN)))
    const list = [
      extension(OID_EXT.basicConstraints, true, basicConstraintsValue(false)),
      extension(OID_EXT.keyUsage, true, KU_DEVICE),
      extension(OID_EXT.extKeyUsage, false, EKU_CLIENT_AUTH),
      ski,
      extension(OID_EXT.authorityKeyIdentifier, false, akiValue(spec.caKeyId)),
    ]
    const whole = explicit(3, seq(...list))
    const skiEnd = whole.length - list[4]!.length
    this.extHead = whole.subarray(0, skiEnd - SKI_LEN)
    this.extTail = whole.subarray(skiEnd)
  }

  private subject(req: DeviceRequest): Buffer {
    const cn = set(seq(OID_CN, dirString(req.endpoint)))
    if (req.accountId === undefined) return seq(cn)
    let ou = this.ouRdn.get(req.accountId)
    if (!ou) {
      ou = set(seq(OID_OU, dirString(req.accountId)))
      this.ouRdn.set(req.accountId, ou)
    }
    return seq(ou, cn)
  }

  /**
   * Issues one certificate. Without `spki` a fresh P-256 key is generated and returned as PKCS#8; with it (a CSR's
   * key) only the certificate is made. `serial` must be a positive 16-byte value (see `randomSerial`).
   */
  issue(req: DeviceRequest, serial: Buffer, spki?: Buffer): RawIssued {
    let privateKeyDer: Buffer | undefined
    if (spki === undefined) {
      const kp = generateP256Der()
      spki = kp.spki
      privateKeyDer = kp.pkcs8
    }
    const keyId = createHash('sha1').update(publicKeyBits(spki)).digest()
    const serialTlv = Buffer.concat([Buffer.from([0x02, SERIAL_BYTES]), serial])
    const subject = this.subject(req)
    const bodyLen =
      V3.length + serialTlv.length + this.middle.length + subject.length + spki.length + this.extHead.length + SKI_LEN + this.extTail.length
    const tbs = Buffer.concat([Buffer.from([0x30]), derLength(bodyLen), V3, serialTlv, this.middle, subject, spki, this.extHead, keyId, this.extTail])
    const sig = this.signFn(tbs)
    const certificateDer = seq(tbs, this.spec.signatureAlgorithm, bitString(sig))
    return { certificateDer, privateKeyDer, serialHex: serial.toString('hex') }
  }

  /** Issues a run of devices with fresh keys (serial randomness drawn in one call). */
  issueMany(reqs: readonly DeviceRequest[]): RawIssued[] {
    const pool = randomBytes(SERIAL_BYTES * reqs.length)
    return reqs.map((r, i) => this.issue(r, randomSerial(SERIAL_BYTES, pool, i * SERIAL_BYTES)))
  }
}

/** PEM and fingerprint for an issued DER certificate. */
export function finish(der: Buffer): { certificatePem: string; fingerprint: string } {
  return { certificatePem: derToPem(der, 'CERTIFICATE'), fingerprint: sha256Hex(der) }
}
