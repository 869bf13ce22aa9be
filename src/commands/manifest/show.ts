import { Args } from '@oclif/core'

import { shown } from '../../core/validate/escape.js'
import { BaseCommand } from '../../cli/base-command.js'
import { openStoreFromFlags } from '../../cli/context.js'
import { manifestFlags } from '../../cli/flags.js'
import { describeProof, publicRecord } from '../../core/manifest/query.js'
import { notFoundError } from '../../core/manifest/sqlite.js'

export default class ManifestShow extends BaseCommand {
  static override summary = 'Show one endpoint: status, credentials (never the secrets), device, station, history fields.'

  static override examples = ['<%= config.bin %> <%= command.id %> urn:dev:os:320973-0973BA000007', '<%= config.bin %> <%= command.id %> ep-0001 --json']

  static override args = { endpoint: Args.string({ description: 'Endpoint name.', required: true }) }

  static override flags = { ...manifestFlags }

  async run() {
    const { args, flags } = await this.parse(ManifestShow)
    const store = await openStoreFromFlags(flags, (fn) => this.onCleanup(fn), { readonly: true })
    const r = await store.get(args.endpoint)
    if (!r) throw notFoundError(args.endpoint)
    const rec = publicRecord(r)
    const lines: Array<[string, unknown]> = [
      ['endpoint', rec.endpoint],
      ['status', rec.status + (rec.statusReason ? ` (${rec.statusReason})` : '')],
      ['batch', rec.batch],
      ['mode', rec.mode],
      ['security', rec.security],
      ['server', rec.serverUri],
      ['psk identity', rec.pskIdentity],
      ['sealed secret', rec.hasSecret ? 'yes (export with --include-secrets)' : 'no'],
      ['serial', rec.serial],
      ['fingerprint', rec.fingerprint],
      ['not after', rec.notAfter],
      ['account id', rec.accountId],
      ['short server id', rec.shortServerId],
      ['lifetime', rec.lifetime],
      ['binding', rec.binding],
      ['enrollment id', rec.enrollmentId],
      ['device', rec.deviceId],
      ['station', rec.station],
      ['read-back digest', rec.readbackDigest],
      ['proof', rec.status === 'verified' ? describeProof(rec.proof ?? 'none') : undefined],
      ['developer', rec.developer ? 'yes' : undefined],
      ['provenance', rec.provenance],
      ['template', rec.template === null || rec.template === undefined ? undefined : `${rec.template} #${rec.seq}`],
      ['created', rec.createdAt],
      ['updated', rec.updatedAt],
    ]
    for (const [k, v] of lines) if (v !== null && v !== undefined && v !== '') this.out(`${k.padEnd(17)}${shown(String(v))}`)
    const history = await store.history(args.endpoint)
    if (history.length > 0) {
      this.out(`superseded       ${history.length} earlier credential set(s), oldest first:`)
      for (const h of history) {
        const what = h.fingerprint ? `certificate ${h.fingerprint}` : h.pskIdentity ? `psk identity ${h.pskIdentity}${h.hasSecret ? ' (sealed PSK kept)' : ''}` : h.status
        this.out(`  ${shown(h.supersededAt)}  ${shown(what)}  device ${shown(h.deviceId ?? '-')}  by ${shown(h.supersededBy ?? '-')}: ${shown(h.reason)}`)
      }
    }
    if (rec.certificatePem) this.out(`\n${shown(rec.certificatePem.trimEnd()).replace(/\\x0a/g, '\n')}`)
    return { ...rec, history }
  }
}
