import { BaseCommand } from '../../cli/base-command.js'
import { masterKeyFromFlags, openStoreFromFlags } from '../../cli/context.js'
import { manifestFlags } from '../../cli/flags.js'
import { cryptoError } from '../../core/errors.js'
import { publicKeyB64, signingKeyFromMasterKey, verifyAudit, type AuditVerification } from '../../core/manifest/audit.js'

export default class AuditVerify extends BaseCommand {
  static override summary = "Check the manifest's audit trail: recompute the hash chain and check the signed checkpoints."

  static override description = `Reports the first broken link: an entry edited, deleted, inserted or moved by hand (E_AUDIT_BROKEN, exit 6). With the master key (LWPROV_MASTER_KEY / --key-file) the checkpoint signatures are checked against the key derived from it; without it, against the key the manifest records (a warning says so).`

  static override examples = ['<%= config.bin %> <%= command.id %>', 'LWPROV_MASTER_KEY=… <%= config.bin %> <%= command.id %> --manifest postgres://lwprov@db/factory']

  static override flags = { ...manifestFlags }

  async run(): Promise<AuditVerification> {
    const { flags } = await this.parse(AuditVerify)
    const store = await openStoreFromFlags(flags, (fn) => this.onCleanup(fn), { readonly: true })
    const mk = masterKeyFromFlags(flags, false)
    const trusted = mk ? publicKeyB64(signingKeyFromMasterKey(mk)) : undefined
    const v = verifyAudit(await store.listAudit(), await store.auditCheckpoints(), trusted, await store.signingPublicKey())
    for (const w of v.warnings) this.warn(w)
    if (v.broken) {
      throw cryptoError('E_AUDIT_BROKEN', `The audit trail is broken at entry ${v.broken.seq}: ${v.broken.reason}.`, 'The manifest was changed outside lwprov: compare it with a backup or a signed export, and find out who had write access.')
    }
    this.out(`Audit trail intact: ${v.entries} entries, ${v.checkpoints} signed checkpoint(s), signed through entry ${v.signedThrough}${v.head ? `, head ${v.head.hash.slice(0, 16)}…` : ''}.`)
    return v
  }
}
