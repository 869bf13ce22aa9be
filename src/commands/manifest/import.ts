import { readFileSync } from 'node:fs'

import { Args, Flags } from '@oclif/core'

import { BaseCommand } from '../../cli/base-command.js'
import { masterKeyFromFlags, openStoreFromFlags } from '../../cli/context.js'
import { manifestFlags } from '../../cli/flags.js'
import { usageError } from '../../core/errors.js'
import { type ImportFormat, importRecords, parseImportRows, toImportRecords } from '../../core/manifest/import.js'

export default class ManifestImport extends BaseCommand {
  static override summary = 'Import a ledger (CSV or JSON rows as `manifest export` writes them), all-or-nothing.'

  static override description =
    'Every row is validated first; then all rows go in one transaction. If any endpoint name already exists nothing is written and the duplicates are named (E_DUPLICATE_ENDPOINT, exit 3). pskKeyHex / privateKeyPem columns are sealed with the master key.'

  static override examples = ['<%= config.bin %> <%= command.id %> --format csv legacy-devices.csv', 'LWPROV_MASTER_KEY=… <%= config.bin %> <%= command.id %> --format json other-factory.json --batch plant-b']

  static override args = { file: Args.string({ description: 'File to import.', required: true }) }

  static override flags = {
    ...manifestFlags,
    format: Flags.string({ summary: 'Input format (json also reads NDJSON).', options: ['csv', 'json'], required: true }),
    batch: Flags.string({ summary: 'Record every row under this batch name (default: the batch column, else "import").' }),
  }

  async run() {
    const { args, flags } = await this.parse(ManifestImport)
    let text: string
    try {
      text = readFileSync(args.file, 'utf8')
    } catch (e) {
      throw usageError('E_IMPORT_UNREADABLE', `Cannot read ${args.file}: ${(e as Error).message}.`, 'Check the path.')
    }
    const raw = parseImportRows(text, flags.format as ImportFormat)
    if (raw.length === 0) throw usageError('E_IMPORT_EMPTY', `${args.file} holds no rows.`, 'Check the file.')
    const needsKey = raw.some((r) => r.pskKeyHex || r.pskHex || r.pskKey || r.privateKeyPem)
    const masterKey = masterKeyFromFlags(flags, needsKey)
    const rows = toImportRecords(raw, { ...(masterKey ? { masterKey } : {}), ...(flags.batch ? { batch: flags.batch } : {}) })
    const store = await openStoreFromFlags(flags, (fn) => this.onCleanup(fn))
    await importRecords(store, rows)
    this.out(`${rows.length} endpoint(s) imported into ${store.location}.`)
    return { imported: rows.length, manifest: store.location }
  }
}
