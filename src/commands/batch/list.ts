import { shown } from '../../core/validate/escape.js'
import { BaseCommand } from '../../cli/base-command.js'
import { openStoreFromFlags } from '../../cli/context.js'
import { manifestFlags } from '../../cli/flags.js'
import { listBatchStatuses } from '../../core/station/batch.js'

export default class BatchList extends BaseCommand {
  static override summary = 'List work orders with their progress.'

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']

  static override flags = { ...manifestFlags }

  async run() {
    const { flags } = await this.parse(BatchList)
    const store = await openStoreFromFlags(flags, (fn) => this.onCleanup(fn), { readonly: true })
    const all = await listBatchStatuses(store, new Date())
    if (all.length === 0) this.out('No work orders yet: create one with `lwprov batch create`.')
    else {
      const rows = all.map((s) => [s.name, s.state, String(s.total), String(s.counts.verified), String(s.counts.failed), String(s.remaining), s.expiresOn ?? '-'].map(shown))
      const head = ['WORK ORDER', 'STATE', 'DEVICES', 'VERIFIED', 'FAILED', 'REMAINING', 'EXPIRES']
      const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
      for (const r of [head, ...rows]) this.out(r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd())
    }
    return { batches: all }
  }
}
