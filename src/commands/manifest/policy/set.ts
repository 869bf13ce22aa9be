import { Flags } from '@oclif/core'

import { BaseCommand } from '../../../cli/base-command.js'
import { openStoreFromFlags } from '../../../cli/context.js'
import { manifestFlags } from '../../../cli/flags.js'
import { applyPolicyUpdate, formatPolicy, updatePolicy } from '../../../core/manifest/policy.js'

export default class ManifestPolicySet extends BaseCommand {
  static override summary = 'Set manifest policies: work orders required, minimum PSK length, allowed servers, endpoint pattern, maximum certificate validity.'

  static override description = `Policies live in the manifest, so every station sharing it obeys them; they are enforced on every issuing path (credentials generate, inject, station, devcert, manifest import). Flags not given keep their current value; --clear starts from no policy.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --require-work-order --min-psk-bytes 32',
    "<%= config.bin %> <%= command.id %> --allowed-server coaps://lwm2m.example.com:5684 --endpoint-pattern 'urn:dev:ops:32473-[A-Z0-9-]+' --max-cert-days 3653",
    '<%= config.bin %> <%= command.id %> --no-require-work-order',
  ]

  static override flags = {
    ...manifestFlags,
    'require-work-order': Flags.boolean({ summary: 'No just-in-time names: endpoints must be reserved by `batch create` first.', allowNo: true }),
    'min-psk-bytes': Flags.integer({ summary: 'Refuse PSKs shorter than this (16..64).' }),
    'allowed-server': Flags.string({ summary: 'A server URI credentials may point at (repeat for several; "" clears).', multiple: true }),
    'endpoint-pattern': Flags.string({ summary: 'Regular expression every endpoint name must match ("" clears).' }),
    'max-cert-days': Flags.integer({ summary: 'Longest device certificate validity, days.' }),
    clear: Flags.boolean({ summary: 'Start from no policy (then apply the other flags).' }),
  }

  async run() {
    const { flags } = await this.parse(ManifestPolicySet)
    const update = {
      ...(flags['require-work-order'] === undefined ? {} : { requireWorkOrder: flags['require-work-order'] }),
      ...(flags['min-psk-bytes'] === undefined ? {} : { minPskBytes: flags['min-psk-bytes'] }),
      ...(flags['allowed-server'] === undefined ? {} : { allowedServers: flags['allowed-server'].filter((s) => s !== '') }),
      ...(flags['endpoint-pattern'] === undefined ? {} : { endpointPattern: flags['endpoint-pattern'] }),
      ...(flags['max-cert-days'] === undefined ? {} : { maxCertDays: flags['max-cert-days'] }),
      clear: flags.clear,
    }
    // Validate before the manifest is opened, so a bad value writes nothing.
    applyPolicyUpdate({}, update)
    const store = await openStoreFromFlags(flags, (fn) => this.onCleanup(fn))
    const policy = await updatePolicy(store, update)
    this.out(formatPolicy(policy))
    return policy
  }
}
