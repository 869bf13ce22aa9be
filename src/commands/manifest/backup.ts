import { Flags } from '@oclif/core'

import { BaseCommand } from '../../cli/base-command.js'
import { openStoreFromFlags } from '../../cli/context.js'
import { manifestFlags } from '../../cli/flags.js'
import { backupManifest } from '../../core/manifest/backup.js'

export default class ManifestBackup extends BaseCommand {
  static override summary = 'Copy the manifest to a new file while stations keep working (SQLite online backup).'

  static override description = `Writes a consistent copy of a SQLite manifest with SQLite's online backup API: safe while other lwprov processes write. The copy is a new file (0600; an existing one is replaced only with --force, never the manifest itself). Sealed secrets stay sealed: keep the master key separately. For a PostgreSQL manifest use pg_dump; lwprov prints the command.`

  static override examples = ['<%= config.bin %> <%= command.id %> --out backups/lwprov-$(date +%F).db']

  static override flags = {
    ...manifestFlags,
    out: Flags.string({ summary: 'The backup file to create.', char: 'o', required: true }),
    force: Flags.boolean({ summary: 'Replace an existing --out file (never the manifest or a CA file).' }),
  }

  async run() {
    const { flags } = await this.parse(ManifestBackup)
    const store = await openStoreFromFlags(flags, (fn) => this.onCleanup(fn), { readonly: true })
    const r = await backupManifest(store, flags.out, { force: flags.force })
    this.out(`Backed up ${store.location} (${r.rows} rows, namespace ${r.namespace}) to ${r.path}.`)
    return r
  }
}
