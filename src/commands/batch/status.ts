import { Args } from '@oclif/core'

import { shown } from '../../core/validate/escape.js'
import { BaseCommand } from '../../cli/base-command.js'
import { openStoreFromFlags } from '../../cli/context.js'
import { manifestFlags } from '../../cli/flags.js'
import { batchStatus, type BatchStatus } from '../../core/station/batch.js'

export default class BatchStatusCmd extends BaseCommand {
  static override summary = 'Show a work order: devices per status, activation window, names remaining.'

  static override description = 'Counts come from the manifest, so they are exact even while stations are running or after a station was killed.'

  static override examples = ['<%= config.bin %> <%= command.id %> WO-1234', '<%= config.bin %> <%= command.id %> WO-1234 --manifest postgres://lwprov@db/lwprov --json']

  static override args = { name: Args.string({ description: 'Work-order name.', required: true }) }

  static override flags = { ...manifestFlags }

  async run(): Promise<BatchStatus> {
    const { args, flags } = await this.parse(BatchStatusCmd)
    const store = await openStoreFromFlags(flags, (fn) => this.onCleanup(fn), { readonly: true })
    const s = await batchStatus(store, args.name, new Date())
    this.out(formatStatus(s))
    return s
  }
}

/** The human view of one work order. */
export function formatStatus(s: BatchStatus): string {
  const window = `${s.activatesOn ?? 'now'} → ${s.expiresOn ?? 'open-ended'}`
  const counts = Object.entries(s.counts)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ')
  return [
    `Work order ${s.name} (${s.state})`,
    `  template   ${s.template ?? '-'}`,
    `  window     ${window}`,
    `  devices    ${s.total}${counts ? ` (${counts})` : ''}`,
    `  remaining  ${s.remaining}`,
  ]
    .map(shown)
    .join('\n')
}
