import { Flags } from '@oclif/core'

import { shown } from '../../core/validate/escape.js'
import { BaseCommand } from '../../cli/base-command.js'
import { openStoreFromFlags } from '../../cli/context.js'
import { manifestFlags } from '../../cli/flags.js'
import { parseDuration } from '../../core/manifest/query.js'

export default class ManifestExpiring extends BaseCommand {
  static override summary = 'Device certificates that expire within a period (renewal planning); already expired ones too.'

  static override examples = ['<%= config.bin %> <%= command.id %> --within 90d', '<%= config.bin %> <%= command.id %> --within 1y --batch line2-2026-03 --json']

  static override flags = {
    ...manifestFlags,
    within: Flags.string({ summary: 'Period from now: 90d, 12w, 1y (a bare number is days).', default: '90d' }),
    batch: Flags.string({ summary: 'Only this batch.' }),
  }

  async run() {
    const { flags } = await this.parse(ManifestExpiring)
    const now = Date.now()
    const limit = new Date(now + parseDuration(flags.within)).toISOString()
    const store = await openStoreFromFlags(flags, (fn) => this.onCleanup(fn), { readonly: true })
    const out: Array<{ endpoint: string; notAfter: string; daysLeft: number; status: string; batch: string; serial: string | null }> = []
    for await (const r of store.list(flags.batch ? { batch: flags.batch } : {})) {
      if (!r.notAfter || r.status === 'revoked') continue
      const t = new Date(r.notAfter).toISOString()
      if (t > limit) continue
      out.push({ endpoint: r.endpoint, notAfter: t, daysLeft: Math.floor((Date.parse(t) - now) / 86400e3), status: r.status, batch: r.batch, serial: r.serial ?? null })
    }
    out.sort((a, b) => (a.notAfter < b.notAfter ? -1 : a.notAfter > b.notAfter ? 1 : 0))
    if (out.length === 0) this.out(`No certificates expire within ${flags.within}.`)
    else {
      const rows = out.map((e) => [e.endpoint, e.notAfter.slice(0, 10), e.daysLeft < 0 ? 'EXPIRED' : String(e.daysLeft), e.status, e.batch].map(shown))
      const head = ['ENDPOINT', 'NOT AFTER', 'DAYS LEFT', 'STATUS', 'BATCH']
      const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
      for (const r of [head, ...rows]) this.out(r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd())
    }
    return out
  }
}
