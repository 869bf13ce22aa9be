import { BaseCommand } from '../../cli/base-command.js'
import { manifestLocationFromFlags, openStoreFromFlags } from '../../cli/context.js'
import { manifestFlags } from '../../cli/flags.js'

export default class ManifestInfo extends BaseCommand {
  static override summary = 'Which manifest this directory uses, where it is, and its identity (namespace id and name).'

  static override description = `The manifest is found the same way from any directory: --manifest / LWPROV_MANIFEST, else --manifest-file / LWPROV_MANIFEST_FILE, else the nearest lwprov.yaml up the directory tree (manifest: PATH), else the per-user default ($XDG_DATA_HOME/lwprov/lwprov.db). Its namespace id is set when it is created and carried in every export, so two ledgers are never mistaken for one.`

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --manifest ./factory.db --json']

  static override flags = { ...manifestFlags }

  async run() {
    const { flags } = await this.parse(ManifestInfo)
    const where = manifestLocationFromFlags(flags)
    const store = await openStoreFromFlags(flags, (fn) => this.onCleanup(fn), { readonly: true })
    const id = await store.info()
    const rows = await store.count({})
    const signingKey = await store.signingPublicKey()
    const from = where.from ? ` (${where.from})` : ''
    this.out(`Manifest  ${store.location} (${store.kind})\nFound by  ${where.source}${from}\nName      ${id.name}\nNamespace ${id.namespace}\nCreated   ${id.createdAt}\nRows      ${rows}${signingKey ? `\nSigning key ${signingKey}` : ''}`)
    return { location: store.location, kind: store.kind, source: where.source, ...(where.from ? { from: where.from } : {}), ...id, rows, ...(signingKey ? { signingPublicKey: signingKey } : {}) }
  }
}
