import { readFileSync } from 'node:fs'

import { validateBatchName } from '../../core/station/batch.js'
import { confirmLargeCount } from '../../cli/confirm-count.js'
import { BaseCommand } from '../../cli/base-command.js'
import { bindCaToManifest, loadCaFromFlags, masterKeyFromFlags, openStoreFromFlags, profileFromFlags } from '../../cli/context.js'
import { caFlags, credentialProfileFlags, endpointFlags, manifestFlags } from '../../cli/flags.js'
import { defaultBatchName, generateBatch, parseEndpointList, validateEndpointRequest, validateProfile } from '../../core/credentials/index.js'
import { usageError } from '../../core/errors.js'

export default class CredentialsGenerate extends BaseCommand {
  static override summary = 'Generate LwM2M credentials for a batch of endpoints and record them in the manifest.'

  static override description = `Makes one credential set per endpoint — a P-256 key and a certificate signed by the factory CA (--security cert), a random PSK (psk), or nothing (nosec, development only) — for a bootstrap account (/0 with Bootstrap-Server = true) or a direct LwM2M account (/0 + /1).

The whole batch is one manifest transaction: if any name was already issued, nothing is written and the duplicates are named. {seq} templates continue after the highest number already issued for the same template unless --start is given. PSKs and private keys are stored only encrypted under the manifest master key (LWPROV_MASTER_KEY or --key-file).`

  static override examples = [
    {
      description: '200 bootstrap certificate credentials signed by the line CA',
      command:
        "LWPROV_CA_PASSPHRASE=… <%= config.bin %> <%= command.id %> --count 200 --endpoint 'urn:dev:os:320973-0973BA{seq:06}' --mode bootstrap --security cert --server coaps://bs.example.com:5684 --ca ./line-ca",
    },
    {
      description: 'Direct PSK credentials for the names in a file',
      command: '<%= config.bin %> <%= command.id %> --endpoints names.txt --mode direct --security psk --server coaps://lwm2m.example.com:5684 --psk-bytes 16',
    },
  ]

  static override flags = {
    ...endpointFlags,
    ...credentialProfileFlags,
    ...caFlags,
    ...manifestFlags,
  }

  async run() {
    const { flags } = await this.parse(CredentialsGenerate)
    const now = new Date()
    // Check the cheap things before touching the CA or the manifest, so bad input changes nothing.
    validateEndpointRequest({ template: flags.endpoint, count: flags.count, start: flags.start, hasNames: flags.endpoints !== undefined })
    if (flags.batch !== undefined) validateBatchName(flags.batch)
    const profile = profileFromFlags(flags, (t) => this.warn(t))
    validateProfile(profile, Boolean(flags.ca))
    let names: string[] | undefined
    if (flags.endpoints) {
      try {
        names = parseEndpointList(readFileSync(flags.endpoints, 'utf8'))
      } catch (e) {
        if ((e as { code?: string }).code === undefined) throw e
        throw usageError('E_ENDPOINTS_UNREADABLE', `Cannot read --endpoints file ${flags.endpoints}.`, 'Check the path; the file holds one endpoint name a line.')
      }
    }
    if (profile.security === 'cert' && !profile.serverCaDer) {
      this.warn("No --server-ca: the devices will not be able to verify the server's certificate (/0/x/4 stays empty).")
    }
    await confirmLargeCount(names?.length ?? flags.count, 'generate credentials for')
    const masterKey = masterKeyFromFlags(flags, profile.security !== 'nosec')
    const ca = await loadCaFromFlags(flags, (fn) => this.onCleanup(fn))
    const store = await openStoreFromFlags(flags, (fn) => this.onCleanup(fn))
    bindCaToManifest(ca, store)
    const batch = flags.batch ?? defaultBatchName(now)
    const result = await generateBatch(
      store,
      names ? { names, ...(flags.count === undefined ? {} : { count: flags.count }) } : { ...(flags.endpoint ? { template: flags.endpoint } : {}), ...(flags.count ? { count: flags.count } : {}), ...(flags.start === undefined ? {} : { start: flags.start }) },
      profile,
      { batch, ...(ca ? { ca } : {}), ...(masterKey ? { masterKey } : {}), now },
    )
    const first = result.endpoints[0]
    const last = result.endpoints.at(-1)
    this.out(
      `Generated ${result.count} ${profile.security} ${profile.mode} credential${result.count === 1 ? '' : 's'} in batch ${batch}` +
        (first ? `: ${first}${result.count > 1 ? ` … ${last}` : ''}` : '') +
        ` (manifest ${store.location}).`,
    )
    return {
      batch,
      count: result.count,
      mode: profile.mode,
      security: profile.security,
      server: profile.serverUri,
      manifest: store.location,
      endpoints: result.endpoints,
    }
  }
}
