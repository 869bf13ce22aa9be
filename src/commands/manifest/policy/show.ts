import { BaseCommand } from '../../../cli/base-command.js'
import { openStoreFromFlags } from '../../../cli/context.js'
import { manifestFlags } from '../../../cli/flags.js'
import { formatPolicy } from '../../../core/manifest/policy.js'

export default class ManifestPolicyShow extends BaseCommand {
  static override summary = "Show the manifest's policies (enforced by generate, inject, station, devcert and import)."

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --manifest postgres://lwprov@db/factory --json']

  static override flags = { ...manifestFlags }

  async run() {
    const { flags } = await this.parse(ManifestPolicyShow)
    const store = await openStoreFromFlags(flags, (fn) => this.onCleanup(fn), { create: false })
    const policy = await store.getPolicy()
    this.out(formatPolicy(policy))
    return policy
  }
}
