/**
 * The parts of `manifest export` beyond streaming rows to stdout: exports to files (with digests, detached signatures
 * and the audit entry), and a CRL signed by the issuing CA (`--format crl`).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import { usageError } from '../core/errors.js'
import { assertOutputDir, assertOutputTarget, writeOutputFileSync } from '../core/fs/safe-write.js'
import { exportManifest, fileTarget, removeExportTemps, type ExportFormat, type ExportOptions, type ExportResult } from '../core/manifest/export/index.js'
import { signingKeyFromMasterKey } from '../core/manifest/audit.js'
import { signDetached } from '../core/manifest/signing.js'
import type { ManifestStore } from '../core/manifest/types.js'
import { buildCrl } from '../core/pki/delegate.js'
import { loadCaFromFlags, type CaFlagValues } from './context.js'

export interface CrlResult {
  format: 'crl'
  issuer: string
  revoked: number
  files: string[]
}

/** Writes the CRL of the CA given with --ca (every certificate the manifest records as revoked under it). */
export async function exportCrl(store: ManifestStore, flags: CaFlagValues & { out?: string | undefined; force?: boolean }, onCleanup: (fn: () => Promise<void>) => void): Promise<CrlResult> {
  if (!flags.ca || !flags.out) throw usageError('E_CRL_NEEDS_CA', 'A CRL is signed by its issuing CA and written to a file: pass --ca DIR and --out FILE.', 'Example: lwprov manifest export --format crl --ca ./line3-ca --out line3.crl')
  const ca = (await loadCaFromFlags(flags, onCleanup))!
  const crl = buildCrl(ca, await store.listRevocations())
  writeOutputFileSync(flags.out, crl.pem, { mode: 0o644, force: flags.force ?? false })
  await store.appendAudit([{ action: 'crl.signed', subject: ca.subject, details: { revoked: crl.count, file: flags.out, ca: ca.fingerprint } }])
  return { format: 'crl', issuer: ca.subject, revoked: crl.count, files: [flags.out] }
}

/**
 * Signs each written file (FILE.jws beside it); for a directory export, its SHA256SUMS. Returns the signature files.
 */
export async function signExport(store: ManifestStore, masterKey: Buffer, out: string, files: string[], dirLayout: boolean, force: boolean): Promise<string[]> {
  const key = signingKeyFromMasterKey(masterKey)
  const { namespace } = await store.info()
  const targets = dirLayout ? [join(out, 'SHA256SUMS')] : files
  const sigs: string[] = []
  for (const f of targets) {
    const jws = signDetached(readFileSync(f), f, key, namespace)
    sigs.push(writeOutputFileSync(`${f}.jws`, jws, { mode: 0o644, force }))
  }
  return sigs
}

/**
 * An export to `o.out` (a file, numbered files or a directory) through the safe-output helper. Refused before any row
 * is read: an existing file (unless --force), the manifest, a CA file, a symlink's target. Temporaries may hold
 * plaintext secrets: the helper removes them on exit and on SIGINT/SIGTERM/SIGHUP, and a run killed with SIGKILL
 * leaves them recorded for the next run to remove.
 */
export async function exportToFiles(
  store: ManifestStore,
  format: ExportFormat,
  opts: ExportOptions,
  o: { out: string; digest: boolean; force: boolean; sign: boolean; includeSecrets: boolean; masterKey: Buffer | undefined; audited: boolean },
): Promise<ExportResult & { signatures?: string[] }> {
  const dirLayout = format.layout === 'dir'
  if (dirLayout) assertOutputDir(o.out)
  else assertOutputTarget(o.out, { force: o.force })
  try {
    const r = await exportManifest(store, format, opts, fileTarget(o.out, { digest: o.digest || (o.sign && dirLayout), force: o.force, secret: o.includeSecrets }))
    const signatures = o.sign ? await signExport(store, o.masterKey!, o.out, r.files, dirLayout, o.force) : []
    if (o.audited) {
      const action = o.includeSecrets ? 'exported.secrets' : 'exported.signed'
      await store.appendAudit([{ action, subject: o.out, details: { format: r.format, rows: r.rows, files: r.files.length, signed: signatures.length > 0 } }])
    }
    return signatures.length ? { ...r, signatures } : r
  } finally {
    removeExportTemps()
  }
}
