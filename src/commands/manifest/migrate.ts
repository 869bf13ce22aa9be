import { BaseCommand } from '../../cli/base-command.js'
import { openStoreFromFlags } from '../../cli/context.js'
import { manifestFlags } from '../../cli/flags.js'

export default class ManifestMigrate extends BaseCommand {
  static override summary = 'Create the manifest schema or bring it up to this lwprov version.'

  static override description =
    'Other commands migrate automatically; run this explicitly for a shared PostgreSQL manifest before a new lwprov version goes to the stations. Migrations are versioned and idempotent.'

  static override examples = ['<%= config.bin %> <%= command.id %> --manifest ./lwprov.db', '<%= config.bin %> <%= command.id %> --manifest postgres://lwprov@db.factory.lan/lwprov']

  static override flags = { ...manifestFlags }

  async run() {
    const { flags } = await this.parse(ManifestMigrate)
    const store = await openStoreFromFlags(flags, (fn) => this.onCleanup(fn), { migrate: true })
    const version = await store.migrate()
    this.out(`${store.location} (${store.kind}): schema version ${version}`)
    return { kind: store.kind, location: store.location, version }
  }
}
