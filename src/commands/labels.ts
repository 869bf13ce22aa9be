import { Flags } from '@oclif/core'

import { BaseCommand } from '../cli/base-command.js'
import { openStoreFromFlags } from '../cli/context.js'
import { labelFlags, manifestFlags } from '../cli/flags.js'
import { openLabelsFromFlags } from '../cli/labels.js'
import { usageError } from '../core/errors.js'
import { assertBatchHasRows, batchLabels } from '../core/labels/reprint.js'
import { ENDPOINT_STATUSES, type EndpointStatus } from '../core/manifest/types.js'

export interface LabelsResult {
  batch: string
  labels: number
  format: string
  out: string
  layout: string
}

export default class Labels extends BaseCommand {
  static override summary = 'Print labels for a batch already in the manifest (reprints): PDF, PNG, ZPL, CSV or a ZPL printer.'

  static override description = `Claim codes are stored only as salted hashes, so these labels carry the endpoint (and the device serial once injected) but no claim code: the QR holds the LW1 payload without its C field. Labels with claim codes come out of \`batch create --claim-codes --labels FILE\`, the only moment the codes exist.

The format comes from --out's name (.pdf, .zpl, .csv, DIR/ for PNGs) or --label-format; the layout from --label-layout (templates/labels/*.json or a file). Revoked rows are left out unless --status names them.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --batch WO-1234 --out wo-1234-reprint.pdf',
    '<%= config.bin %> <%= command.id %> --batch WO-1234 --label-format zpl --out wo-1234.zpl --label-layout roll-50x25',
    '<%= config.bin %> <%= command.id %> --batch WO-1234 --status verified --printer tcp://zebra-line1:9100',
  ]

  static override flags = {
    batch: Flags.string({ summary: 'Work order / batch whose rows get labels.', required: true }),
    out: Flags.string({ summary: 'Output file (.pdf, .zpl, .csv) or PNG directory (DIR/); created new.', exactlyOne: ['out', 'printer'] }),
    printer: Flags.string({ summary: 'Send ZPL to a networked printer, tcp://HOST:9100.', exactlyOne: ['out', 'printer'] }),
    status: Flags.string({ summary: 'Only rows with these statuses (comma-separated), e.g. verified.' }),
    ...labelFlags,
    force: Flags.boolean({ summary: 'Replace an existing --out file (never the manifest).' }),
    ...manifestFlags,
  }

  async run(): Promise<LabelsResult> {
    const { flags } = await this.parse(Labels)
    const statuses = flags.status?.split(',').map((s) => s.trim()) as EndpointStatus[] | undefined
    const bad = statuses?.filter((s) => !ENDPOINT_STATUSES.includes(s))
    if (bad?.length) throw usageError('E_STATUS_INVALID', `Unknown status ${bad.join(', ')}.`, `Use ${ENDPOINT_STATUSES.join(', ')}.`)
    const store = await openStoreFromFlags(flags, (fn) => this.onCleanup(fn), { readonly: true })
    await assertBatchHasRows(store, flags.batch)
    const target = (flags.printer ?? flags.out)!
    const out = await openLabelsFromFlags(target, flags, { secret: false, flag: flags.printer ? '--printer' : '--out', title: `Batch ${flags.batch}` })
    this.onCleanup(() => out.abort())
    const n = await out.write(batchLabels(store, flags.batch, statuses))
    this.out(`${n} label${n === 1 ? '' : 's'} for ${flags.batch} ${flags.printer ? `sent to ${target}` : `written to ${target}`} (${out.format}, layout ${out.layout.name}).`)
    return { batch: flags.batch, labels: n, format: out.format, out: target, layout: out.layout.name }
  }
}
