import { Flags } from '@oclif/core'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import { BaseCommand } from '../../cli/base-command.js'
import { openStoreFromFlags } from '../../cli/context.js'
import { manifestFlags } from '../../cli/flags.js'
import { usageError } from '../../core/errors.js'
import { revocationsFor, type RevokeTarget } from '../../core/manifest/revoke.js'

export default class CaRevoke extends BaseCommand {
  static override summary = 'Revoke a line CA or device certificates, in the manifest (then publish a CRL with `manifest export --format crl`).'

  static override description = `A revoked line CA may no longer issue (E_CA_REVOKED) and appears on its parent's CRL; \`manifest verify\` flags devices it issued that are still active. Revoked device rows become status revoked and appear on their CA's CRL. Every revocation is an audit entry.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --ca ./line3-ca --reason keyCompromise',
    '<%= config.bin %> <%= command.id %> --endpoint dev-000123 --endpoint dev-000124 --reason cessationOfOperation',
  ]

  static override flags = {
    ...manifestFlags,
    ca: Flags.string({ summary: 'Directory of the CA to revoke (its ca.pem).', exclusive: ['endpoint'] }),
    endpoint: Flags.string({ summary: 'Endpoint whose certificate to revoke (repeatable).', multiple: true }),
    reason: Flags.string({ summary: 'RFC 5280 reason.', options: ['unspecified', 'keyCompromise', 'caCompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation'], default: 'unspecified' }),
  }

  async run() {
    const { flags } = await this.parse(CaRevoke)
    let target: RevokeTarget
    if (flags.ca) target = { caPem: readCaPem(flags.ca) }
    else if (flags.endpoint?.length) target = { endpoints: flags.endpoint }
    else throw usageError('E_REVOKE_TARGET', 'Nothing to revoke.', 'Pass --ca DIR or --endpoint NAME.')
    const store = await openStoreFromFlags(flags, (fn) => this.onCleanup(fn), { create: false })
    const r = await revocationsFor(store, target, flags.reason)
    await store.revoke(r.items, r.audit)
    this.out(`Revoked ${r.items.length} certificate(s): ${r.items.map((i) => i.subject).join(', ')}`)
    return { revoked: r.items.map((i) => ({ subject: i.subject, serial: i.serial })) }
  }
}

/** The CA certificate of --ca DIR; an unreadable one is the CA error every other command gives (not a bare E_FS). */
function readCaPem(dir: string): string {
  try {
    return readFileSync(join(dir, 'ca.pem'), 'latin1')
  } catch (e) {
    throw usageError('E_CA_UNREADABLE', `Cannot read the CA certificate ${join(dir, 'ca.pem')}: ${(e as NodeJS.ErrnoException).code ?? 'error'}.`, 'Pass --ca the directory of the line CA to revoke (it holds ca.pem).', { dir })
  }
}
