import { Flags } from '@oclif/core'

import { shown } from '../../core/validate/escape.js'
import { BaseCommand } from '../../cli/base-command.js'
import { openStoreFromFlags } from '../../cli/context.js'
import { manifestFlags } from '../../cli/flags.js'
import { buildFilter, publicRecord } from '../../core/manifest/query.js'
import { ENDPOINT_STATUSES } from '../../core/manifest/types.js'

export default class ManifestList extends BaseCommand {
  static override summary = 'List manifest endpoints: name, status, batch, security, mode, last update.'

  static override description = 'Rows come out in issue order. Filters combine; --json prints the rows (without sealed secrets) as an array.'

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --batch line2-2026-03 --status failed',
    '<%= config.bin %> <%= command.id %> --status verified --limit 20 --json',
  ]

  static override flags = {
    ...manifestFlags,
    batch: Flags.string({ summary: 'Only this batch / work order.' }),
    status: Flags.string({ summary: `Only these statuses (repeat or comma-separate): ${ENDPOINT_STATUSES.join(', ')}.`, multiple: true }),
    since: Flags.string({ summary: 'Only rows updated at or after this ISO date, or within a duration such as 7d.' }),
    developer: Flags.boolean({ summary: 'Only developer (devcert) rows; --no-developer leaves them out.', allowNo: true }),
    limit: Flags.integer({ summary: 'At most this many rows.', min: 1 }),
  }

  async run() {
    const { flags } = await this.parse(ManifestList)
    const filter = buildFilter(flags)
    const store = await openStoreFromFlags(flags, (fn) => this.onCleanup(fn), { readonly: true })
    const json = this.jsonEnabled()
    const rows: ReturnType<typeof publicRecord>[] = []
    const head = ['ENDPOINT', 'STATUS', 'BATCH', 'SECURITY', 'MODE', 'UPDATED']
    let n = 0
    // Human output streams (fixed widths from the first page) so listing a big manifest starts at once.
    let widths: number[] | undefined
    let page: string[][] = []
    const flush = () => {
      if (!widths) widths = head.map((h, i) => Math.max(h.length, ...page.map((r) => r[i]!.length)))
      for (const r of page) this.out(r.map((c, i) => c.padEnd(widths![i]!)).join('  ').trimEnd())
      page = []
    }
    for await (const r of store.list(filter)) {
      n++
      if (json) rows.push(publicRecord(r))
      else {
        if (!widths && page.length === 0) page.push(head)
        page.push([r.endpoint, r.status + (r.developer ? ' (dev)' : ''), r.batch, r.security, r.mode, r.updatedAt.replace(/\.\d+Z$/, 'Z')].map(shown))
        if (page.length >= 500) flush()
      }
    }
    if (!json) {
      if (page.length > 0) flush()
      if (n === 0) this.out('No endpoints match.')
    }
    return rows
  }
}
