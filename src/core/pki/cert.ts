/**
 * X.509 v3 certificate assembly (RFC 5280) from DER parts, and the raw-field reader the CA code needs to chain
 * device certificates byte-exactly (issuer Name copied verbatim from the CA's subject).
 */
import { sign, type KeyObject } from 'node:crypto'

import { bitString, boolDer, children, dirString, explicit, intDer, octetString, oid, raw, readTlv, seq, set, timeDer, tlv, uintDer, value } from './der.js'

/** Distinguished-name attributes lwprov writes, most general first (C, O, OU, CN). */
export interface NameAttrs {
  country?: string
  org?: string
  orgUnit?: string
  commonName: string
}

const OID_C = oid('2.5.4.6')
const OID_O = oid('2.5.4.10')
const OID_OU = oid('2.5.4.11')
const OID_CN = oid('2.5.4.3')

/** A DER Name, one attribute per RDN. Country is always a PrintableString (RFC 5280 Appendix A). */
export function buildName(a: NameAttrs): Buffer {
  const rdns: Buffer[] = []
  if (a.country !== undefined) rdns.push(set(seq(OID_C, tlv(0x13, Buffer.from(a.country, 'latin1')))))
  if (a.org !== undefined) rdns.push(set(seq(OID_O, dirString(a.org))))
  if (a.orgUnit !== undefined) rdns.push(set(seq(OID_OU, dirString(a.orgUnit))))
  rdns.push(set(seq(OID_CN, dirString(a.commonName))))
  return seq(...rdns)
}

export const OID_EXT = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
} as const

/** One Extension: SEQUENCE { extnID, critical DEFAULT FALSE, extnValue OCTET STRING }. */
export function extension(id: string, critical: boolean, valueDer: Buffer): Buffer {
  return critical ? seq(oid(id), boolDer(true), octetString(valueDer)) : seq(oid(id), octetString(valueDer))
}

/** basicConstraints value: CA flag and optional path length. */
export function basicConstraintsValue(ca: boolean, pathLen?: number): Buffer {
  if (!ca) return seq()
  return pathLen === undefined ? seq(boolDer(true)) : seq(boolDer(true), intDer(pathLen))
}

/** keyUsage for CAs: digitalSignature(0) + keyCertSign(5) + cRLSign(6) → 0x86 with one unused bit. */
export const KU_CA = bitString(Buffer.from([0x86]), 1)
/** keyUsage for devices: digitalSignature(0) → 0x80 with seven unused bits. */
export const KU_DEVICE = bitString(Buffer.from([0x80]), 7)
/** extendedKeyUsage: id-kp-clientAuth. */
export const EKU_CLIENT_AUTH = seq(oid('1.3.6.1.5.5.7.3.2'))

export const skiValue = (keyId: Buffer): Buffer => octetString(keyId)
/** AuthorityKeyIdentifier with keyIdentifier [0] IMPLICIT only. */
export const akiValue = (keyId: Buffer): Buffer => seq(tlv(0x80, keyId))

const V3 = explicit(0, intDer(2))

export interface TbsFields {
  serial: Buffer
  signatureAlgorithm: Buffer
  issuer: Buffer
  notBefore: Date
  notAfter: Date
  subject: Buffer
  spki: Buffer
  extensions: Buffer[]
}

/** TBSCertificate DER. */
export function buildTbs(f: TbsFields): Buffer {
  return seq(
    V3,
    uintDer(f.serial),
    f.signatureAlgorithm,
    f.issuer,
    seq(timeDer(f.notBefore), timeDer(f.notAfter)),
    f.subject,
    f.spki,
    explicit(3, seq(...f.extensions)),
  )
}

/** Signs a TBSCertificate and wraps it into a Certificate. */
export function signTbs(tbs: Buffer, signatureAlgorithm: Buffer, key: KeyObject, hash: string): Buffer {
  const sig = sign(hash, tbs, { key, dsaEncoding: 'der' })
  return seq(tbs, signatureAlgorithm, bitString(sig))
}

/** Raw pieces of a certificate, as bytes, for chaining and template building. */
export interface RawCertificate {
  tbs: Buffer
  serial: Buffer
  issuer: Buffer
  subject: Buffer
  spki: Buffer
  /** Extension value (the OCTET STRING contents) and criticality by dotted OID. */
  extensions: Map<string, { critical: boolean; value: Buffer }>
}

const EXT_BY_DER = new Map(Object.values(OID_EXT).map((o) => [oid(o).toString('hex'), o]))

/** Splits a DER certificate into raw fields (throws on malformed input). */
export function parseRawCertificate(der: Buffer): RawCertificate {
  const cert = readTlv(der)
  const [tbsNode] = children(der, cert)
  if (!tbsNode) throw new Error('certificate: no TBSCertificate')
  let parts = children(der, tbsNode)
  if (parts[0]?.tag === 0xa0) parts = parts.slice(1)
  const [serial, , issuer, , subject, spki, ...rest] = parts
  if (!serial || !issuer || !subject || !spki) throw new Error('certificate: truncated TBSCertificate')
  const extensions = new Map<string, { critical: boolean; value: Buffer }>()
  const extWrap = rest.find((n) => n.tag === 0xa3)
  if (extWrap) {
    const list = children(der, extWrap)[0]
    for (const e of list ? children(der, list) : []) {
      const [id, second, third] = children(der, e)
      if (!id || !second) continue
      const name = EXT_BY_DER.get(raw(der, id).toString('hex'))
      if (!name) continue
      const critical = second.tag === 0x01 ? der[second.body] !== 0 : false
      const octets = second.tag === 0x01 ? third : second
      if (octets) extensions.set(name, { critical, value: value(der, octets) })
    }
  }
  return {
    tbs: raw(der, tbsNode),
    serial: value(der, serial),
    issuer: raw(der, issuer),
    subject: raw(der, subject),
    spki: raw(der, spki),
    extensions,
  }
}

/** The keyIdentifier inside a SubjectKeyIdentifier extension value. */
export function readSki(extValue: Buffer): Buffer {
  return value(extValue, readTlv(extValue))
}
