/** Delegated line CAs and revocation lists: what the manifest records about a CA, and CRLs (RFC 5280 §5). */
import { X509Certificate } from 'node:crypto'

import type { CaRecord, RevocationRecord } from '../manifest/types.js'
import { akiValue, extension, parseRawCertificate, readSki } from './cert.js'
import { explicit, intDer, octetString, oid, seq, tlv, timeDer, uintDer } from './der.js'
import { signWithCa } from './ca.js'
import type { LoadedCa } from './types.js'
import { derToPem, pemBlocks, sha256Hex } from './util.js'

const dn = (s: string): string => s.split('\n').filter(Boolean).join(', ')

/** The manifest record of a CA certificate (PEM) signed by `parentFingerprint`. */
export function delegationRecord(certPem: string, parentFingerprint: string | null, maxCertificates: number | null): Omit<CaRecord, 'issued' | 'createdAt' | 'revokedAt' | 'revokeReason'> {
  const der = pemBlocks(certPem).find((b) => b.label === 'CERTIFICATE')!.der
  const x = new X509Certificate(der)
  return {
    fingerprint: sha256Hex(der),
    subject: dn(x.subject),
    parentFingerprint,
    keyId: certKeyId(der),
    certificatePem: derToPem(der, 'CERTIFICATE'),
    maxCertificates,
    notAfter: new Date(x.validTo).toISOString(),
  }
}

/** The subject key identifier of a certificate, lower-case hex ('' when it has none). */
export function certKeyId(der: Buffer): string {
  const ski = parseRawCertificate(der).extensions.get('2.5.29.14')
  return ski ? readSki(ski.value).toString('hex') : ''
}

/** The authority key identifier of a certificate (its issuer's SKI), lower-case hex ('' when it has none). */
export function certAuthorityKeyId(der: Buffer): string {
  const aki = parseRawCertificate(der).extensions.get('2.5.29.35')
  if (!aki) return ''
  // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING OPTIONAL, … }
  const v = aki.value
  let i = 2 + (v[1]! & 0x80 ? v[1]! & 0x7f : 0)
  if (v[i] !== 0x80) return ''
  const len = v[i + 1]!
  i += 2
  return v.subarray(i, i + len).toString('hex')
}

const REASONS: Record<string, number> = { unspecified: 0, keyCompromise: 1, caCompromise: 2, affiliationChanged: 3, superseded: 4, cessationOfOperation: 5 }

/**
 * A v2 CRL signed by `ca`: every revocation whose issuer key id is the CA's, with thisUpdate now and nextUpdate
 * `days` later, the AKI and a CRL number (seconds since the epoch, so later CRLs have larger numbers).
 */
export function buildCrl(ca: LoadedCa, revocations: readonly RevocationRecord[], opts: { now?: Date; days?: number } = {}): { der: Buffer; pem: string; count: number } {
  const now = opts.now ?? new Date()
  const next = new Date(now.getTime() + (opts.days ?? 7) * 86_400_000)
  const mine = revocations.filter((r) => r.issuerKeyId === ca.keyId.toString('hex'))
  const entries = mine.map((r) => {
    const code = r.reason !== null && r.reason in REASONS ? REASONS[r.reason]! : undefined
    const ext = code === undefined ? [] : [seq(seq(oid('2.5.29.21'), octetString(tlv(0x0a, Buffer.from([code])))))]
    return seq(uintDer(Buffer.from(r.serial, 'hex')), timeDer(new Date(r.revokedAt)), ...ext)
  })
  const crlNumber = extension('2.5.29.20', false, intDer(Math.floor(now.getTime() / 1000)))
  const tbs = seq(
    intDer(1),
    ca.signer.scheme.algorithmDer,
    ca.subjectDer,
    timeDer(now),
    timeDer(next),
    ...(entries.length ? [seq(...entries)] : []),
    explicit(0, seq(extension('2.5.29.35', false, akiValue(ca.keyId)), crlNumber)),
  )
  const der = signWithCa(tbs, ca.signer)
  return { der, pem: derToPem(der, 'X509 CRL'), count: mine.length }
}
