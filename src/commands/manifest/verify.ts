import { Flags } from '@oclif/core'

import { BaseCommand } from '../../cli/base-command.js'
import { openStoreFromFlags } from '../../cli/context.js'
import { manifestFlags } from '../../cli/flags.js'
import { conflictError } from '../../core/errors.js'
import { buildFilter } from '../../core/manifest/query.js'
import { loadCaCertificates, verifyManifest } from '../../core/manifest/verify.js'

export default class ManifestVerify extends BaseCommand {
  static override summary = 'Check the manifest for CI: unique names, certificates chain to the CA and match fingerprints, read-back records.'

  static override description =
    'Reads every row. Exits 0 with a summary when all checks pass; otherwise prints each problem and exits 3 (E_MANIFEST_INVALID, problems in error.details under --json). Without --ca the chain check is skipped (fingerprints and names are still checked).'

  static override examples = ['<%= config.bin %> <%= command.id %> --ca ./line-ca', '<%= config.bin %> <%= command.id %> --ca ./line-ca --batch line2-2026-03 --json']

  static override flags = {
    ...manifestFlags,
    ca: Flags.string({ summary: 'CA directory (ca.pem + chain.pem) or PEM bundle the device certificates must chain to.', env: 'LWPROV_CA' }),
    batch: Flags.string({ summary: 'Only this batch.' }),
  }

  async run() {
    const { flags } = await this.parse(ManifestVerify)
    const ca = flags.ca ? loadCaCertificates(flags.ca) : undefined
    const store = await openStoreFromFlags(flags, (fn) => this.onCleanup(fn), { readonly: true })
    const report = await verifyManifest(store, { ...(ca ? { ca } : {}), filter: buildFilter({ batch: flags.batch }) })
    if (!ca) this.warn('No --ca: certificates were not checked against the factory CA.')
    if (!report.ok) {
      for (const p of report.problems) process.stderr.write(`${p.code}: ${p.message}\n`)
      if (report.moreProblems) process.stderr.write(`… and ${report.moreProblems} more problem(s)\n`)
      const n = report.problems.length + report.moreProblems
      throw conflictError('E_MANIFEST_INVALID', `The manifest fails verification: ${n} problem(s) in ${report.rows} row(s).`, 'Investigate the rows named above; do not ship these devices until the ledger is consistent.', { report })
    }
    this.out(`ok: ${report.rows} row(s), ${report.certificates} certificate(s)${ca ? ' chain to the CA' : ''}, names unique, read-back records present.`)
    this.out(`verified: ${report.verifiedHere} by read-back on this manifest, ${report.importedVerified} imported as verified (read-back done elsewhere).`)
    const proofs = Object.entries(report.verifiedByProof).filter(([, n]) => n > 0)
    if (proofs.length > 0) this.out(`proof: ${proofs.map(([p, n]) => `${n} ${p}`).join(', ')} (pop-* = proof of possession; digest = read-back only, weaker).`)
    return report
  }
}
