import { Flags } from '@oclif/core'

import { BaseCommand } from '../../cli/base-command.js'
import { openStoreFromFlags } from '../../cli/context.js'
import { manifestFlags } from '../../cli/flags.js'
import type { AuditEntry } from '../../core/manifest/audit.js'
import { parseSince } from '../../core/manifest/query.js'
import { shown } from '../../core/validate/escape.js'

export default class AuditList extends BaseCommand {
  static override summary = "The manifest's audit trail: who did what, when, from which station."

  static override description = 'One entry per act (a batch of certificates is one entry with the count and a SHA-256 of the endpoint list). Entries are hash-chained; `lwprov audit verify` checks the chain and its signatures.'

  static override examples = ['<%= config.bin %> <%= command.id %> --since 7d', '<%= config.bin %> <%= command.id %> --endpoint dev-000123 --json']

  static override flags = {
    ...manifestFlags,
    since: Flags.string({ summary: 'Only entries at or after this ISO date, or within a duration such as 7d.' }),
    endpoint: Flags.string({ summary: 'Only entries about this endpoint.' }),
    limit: Flags.integer({ summary: 'At most this many entries.', min: 1 }),
  }

  async run(): Promise<AuditEntry[]> {
    const { flags } = await this.parse(AuditList)
    const store = await openStoreFromFlags(flags, (fn) => this.onCleanup(fn), { readonly: true })
    const entries = await store.listAudit({
      ...(flags.since ? { since: parseSince(flags.since) } : {}),
      ...(flags.endpoint ? { endpoint: flags.endpoint } : {}),
      ...(flags.limit ? { limit: flags.limit } : {}),
    })
    const lines = entries.map((e) => `${String(e.seq).padStart(6)}  ${e.at}  ${shown(e.station)}  ${shown(e.operator)}  ${e.action}  ${shown(e.subject)}  ${shown(e.details)}`)
    this.out(lines.length ? lines.join('\n') : 'No audit entries.')
    return entries
  }
}
