/**
 * Manifest integrity for CI: names unique (checked by reading the rows, so it holds even if someone dropped the
 * constraint), every certificate matches its recorded fingerprint and chains to the factory CA, and no device is
 * `verified` without a read-back record.
 */
import { createHash, X509Certificate } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

import { usageError } from '../errors.js'
import { pemBlocks } from '../pki/util.js'
import { certAuthorityKeyId } from '../pki/delegate.js'
import { certificateDer } from './export/rows.js'
import { PROOF_NAMES, type ManifestFilter, type ManifestStore, type ProofName } from './types.js'

export interface VerifyProblem {
  endpoint: string
  code: 'DUPLICATE_NAME' | 'FINGERPRINT_MISMATCH' | 'CERT_UNREADABLE' | 'CERT_FOREIGN' | 'CN_MISMATCH' | 'CERT_MISSING' | 'NO_READBACK' | 'REVOKED_ACTIVE'
  message: string
}

export interface VerifyReport {
  ok: boolean
  rows: number
  certificates: number
  /** Rows verified by this manifest's own read-back. */
  verifiedHere: number
  /**
   * Rows that arrived `verified` through `manifest import`: their read-back was done elsewhere, so this manifest only
   * vouches for a well-formed digest. Reported apart from `verifiedHere`.
   */
  importedVerified: number
  importedVerifiedEndpoints: string[]
  /** Verified rows by how they were proven (issue 10: proof of possession vs. the weaker read-back digest). */
  verifiedByProof: Record<ProofName, number>
  /** Whether certificates were checked against a CA (`--ca`). */
  chainChecked: boolean
  problems: VerifyProblem[]
  /** Problems beyond `maxProblems` are counted, not listed. */
  moreProblems: number
}

/**
 * Reads the CA certificates of a CA directory (ca.pem + chain.pem) or a PEM bundle file. A directory's `issued/`
 * copies of the intermediates it signed are returned as `intermediates`: they help build a chain, they are not trusted.
 */
export function loadCaCertificates(path: string): X509Certificate[] & { intermediates?: X509Certificate[] } {
  const files = existsSync(join(path, 'ca.pem')) ? [join(path, 'ca.pem'), join(path, 'chain.pem')] : [path]
  const out: X509Certificate[] & { intermediates?: X509Certificate[] } = readCerts(files)
  if (out.length === 0) throw usageError('E_CA_UNREADABLE', `No CA certificate found at ${path}.`, 'Pass --ca with a CA directory (ca.pem, chain.pem) or a PEM file.')
  const issued = join(path, 'issued')
  if (existsSync(issued) && statSync(issued).isDirectory()) {
    out.intermediates = readCerts(readdirSync(issued).filter((f) => f.endsWith('.pem')).sort().map((f) => join(issued, f)))
  }
  return out
}

function readCerts(files: string[]): X509Certificate[] {
  const out: X509Certificate[] = []
  for (const f of files) {
    if (!existsSync(f)) continue
    let text: string
    try {
      text = readFileSync(f, 'utf8')
    } catch {
      continue
    }
    for (const b of pemBlocks(text)) {
      if (b.label !== 'CERTIFICATE') continue
      try {
        out.push(new X509Certificate(b.der))
      } catch {
        // An unparsable block cannot anchor or extend a chain; the chain check reports what it fails to build.
      }
    }
  }
  return out
}

export async function verifyManifest(store: ManifestStore, opts: { ca?: X509Certificate[] & { intermediates?: X509Certificate[] }; filter?: ManifestFilter; maxProblems?: number } = {}): Promise<VerifyReport> {
  const max = opts.maxProblems ?? 1000
  const problems: VerifyProblem[] = []
  let more = 0
  const add = (p: VerifyProblem) => (problems.length < max ? problems.push(p) : more++)
  const seen = new Set<string>()
  const reported = new Set<string>()
  let rows = 0
  let certificates = 0
  let verifiedHere = 0
  const importedVerified: string[] = []
  // revoked certificates and revoked CAs (ca revoke): a row still active under either is flagged
  const revokedSerials = new Set((await store.listRevocations()).map((x) => `${x.issuerKeyId}:${x.serial}`))
  const revokedCas = new Map((await store.listCas()).filter((c) => c.revokedAt).map((c) => [c.keyId, c.subject]))
  const byProof = Object.fromEntries(PROOF_NAMES.map((p) => [p, 0])) as Record<ProofName, number>
  for await (const r of store.list(opts.filter ?? {})) {
    rows++
    if (seen.has(r.endpoint)) {
      if (!reported.has(r.endpoint)) add({ endpoint: r.endpoint, code: 'DUPLICATE_NAME', message: `${r.endpoint} appears more than once (is the UNIQUE constraint missing?)` })
      reported.add(r.endpoint)
    }
    seen.add(r.endpoint)
    if (r.status === 'verified') {
      const p: ProofName = r.proof && (PROOF_NAMES as readonly string[]).includes(r.proof) ? r.proof : 'none'
      byProof[p]++
    }
    if (r.status === 'verified' && !r.readbackDigest) {
      add({ endpoint: r.endpoint, code: 'NO_READBACK', message: `${r.endpoint} is verified but has no read-back digest` })
    } else if (r.status === 'verified' && r.provenance === 'imported') {
      importedVerified.push(r.endpoint)
    } else if (r.status === 'verified') {
      verifiedHere++
    }
    let der: Buffer | undefined
    try {
      der = certificateDer(r)
    } catch {
      der = undefined
    }
    if (!r.certificatePem) {
      if (r.security === 'cert' && (r.status === 'injected' || r.status === 'verified')) {
        add({ endpoint: r.endpoint, code: 'CERT_MISSING', message: `${r.endpoint} is a certificate device (${r.status}) without a certificate` })
      }
      continue
    }
    certificates++
    let cert: X509Certificate
    try {
      if (!der) throw new Error('no PEM block')
      cert = new X509Certificate(der)
    } catch {
      add({ endpoint: r.endpoint, code: 'CERT_UNREADABLE', message: `${r.endpoint}: the recorded certificate cannot be parsed` })
      continue
    }
    const fp = createHash('sha256').update(der).digest('hex')
    if ((r.fingerprint ?? '').toLowerCase() !== fp) {
      add({ endpoint: r.endpoint, code: 'FINGERPRINT_MISMATCH', message: `${r.endpoint}: recorded fingerprint ${r.fingerprint ?? '(none)'} but the certificate's SHA-256 is ${fp}` })
    }
    if (r.status !== 'revoked' && (revokedSerials.size > 0 || revokedCas.size > 0)) {
      const aki = certAuthorityKeyId(der)
      const byCa = revokedCas.get(aki)
      if (revokedSerials.has(`${aki}:${cert.serialNumber.toLowerCase()}`)) {
        add({ endpoint: r.endpoint, code: 'REVOKED_ACTIVE', message: `${r.endpoint}: its certificate is revoked but the row is still ${r.status}` })
      } else if (byCa !== undefined) {
        add({ endpoint: r.endpoint, code: 'REVOKED_ACTIVE', message: `${r.endpoint}: issued by the revoked CA ${byCa} but still ${r.status}` })
      }
    }
    const cn = /(?:^|\n)CN=(.*)(?:\n|$)/.exec(cert.subject)?.[1]
    if (cn !== r.endpoint) add({ endpoint: r.endpoint, code: 'CN_MISMATCH', message: `${r.endpoint}: certificate subject CN is ${cn ?? '(none)'}` })
    if (opts.ca && !chainsTo(cert, opts.ca, opts.ca.intermediates ?? [])) {
      add({
        endpoint: r.endpoint,
        code: 'CERT_FOREIGN',
        message: `${r.endpoint}: certificate (issuer ${cert.issuer.replace(/\n/g, ', ')}) does not chain to the given CA (an intermediate made before lwprov kept copies? pass --ca INTERMEDIATE/chain.pem)`,
      })
    }
  }
  return {
    ok: problems.length === 0 && more === 0,
    rows,
    certificates,
    verifiedHere,
    importedVerified: importedVerified.length,
    importedVerifiedEndpoints: importedVerified.slice(0, 1000),
    verifiedByProof: byProof,
    chainChecked: Boolean(opts.ca), problems, moreProblems: more }
}

/**
 * True when `leaf` chains, signature by signature, to a self-signed certificate of `cas`; `intermediates` (and `cas`)
 * may be links on the way. Every candidate issuer is tried (two CAs may share a subject).
 */
function chainsTo(leaf: X509Certificate, cas: X509Certificate[], intermediates: X509Certificate[]): boolean {
  const pool = [...cas, ...intermediates]
  const walk = (cur: X509Certificate, depth: number): boolean => {
    if (depth > 10) return false
    for (const issuer of pool) {
      if (!cur.checkIssued(issuer) || !cur.verify(issuer.publicKey)) continue
      if (issuer.checkIssued(issuer)) {
        if (cas.includes(issuer)) return true
        continue
      }
      if (issuer !== cur && walk(issuer, depth + 1)) return true
    }
    return false
  }
  return walk(leaf, 0)
}
