import { Flags } from '@oclif/core'

import { BaseCommand } from '../../cli/base-command.js'
import { openStoreFromFlags } from '../../cli/context.js'
import { credentialProfileFlags, endpointFlags, manifestFlags } from '../../cli/flags.js'
import { usageError } from '../../core/errors.js'
import { openOutputFile } from '../../core/fs/safe-write.js'
import type { AccountMode, SecurityKind } from '../../core/model.js'
import { createWorkOrder, labelsCsv, parseWindowDate } from '../../core/station/batch.js'
import { isExplicit, loadStationProfile, mergeSettings } from '../../core/station/profile.js'

export default class BatchCreate extends BaseCommand {
  static override summary = 'Create a work order: reserve endpoint names up front, optionally with claim codes.'

  static override description = `Reserves --count endpoint names from --endpoint TEMPLATE in one manifest transaction (all or nothing) and records the work order. Stations then take names from it with \`lwprov station --batch NAME\`; no name is ever issued twice.

--activates-on / --expires-on bound when devices may be injected. --claim-codes gives every device a registration code (XXXX-XXXX-XXXX, Crockford alphabet, check character) that is stored only as a salted hash and shown once: in the table, the --json result, or a --labels CSV (mode 0600) for the label printer.`

  static override examples = [
    "<%= config.bin %> <%= command.id %> --name WO-1234 --count 500 --endpoint 'urn:dev:os:320973-0973WO{seq:06}'",
    "<%= config.bin %> <%= command.id %> --name WO-1235 --count 100 --endpoint 'urn:dev:os:320973-0973WO{seq:06}' --claim-codes --labels wo-1235-labels.csv --activates-on 2026-12-01 --expires-on 2027-01-31",
  ]

  static override flags = {
    name: Flags.string({ summary: 'Work-order name, e.g. WO-1234.', required: true }),
    count: endpointFlags.count,
    endpoint: endpointFlags.endpoint,
    start: endpointFlags.start,
    profile: Flags.string({ summary: 'Station profile YAML; its endpoint/mode/security/server apply unless given as flags.', env: 'LWPROV_PROFILE' }),
    'activates-on': Flags.string({ summary: 'First day (or ISO time) devices may be injected.' }),
    'expires-on': Flags.string({ summary: 'Day (or ISO time) from which injection is refused.' }),
    'claim-codes': Flags.boolean({ summary: 'Give each device a claim code; shown once, stored only as a hash.' }),
    labels: Flags.string({ summary: 'Write a label-printer CSV (endpoint, claim code) to this new file, mode 0600.' }),
    force: Flags.boolean({ summary: 'Replace an existing --labels file (never the manifest or a CA file).' }),
    mode: credentialProfileFlags.mode,
    security: credentialProfileFlags.security,
    server: credentialProfileFlags.server,
    ...manifestFlags,
  }

  async run() {
    const { flags: parsed } = await this.parse(BatchCreate)
    const now = new Date()
    let flags = parsed
    if (parsed.profile) {
      const profile = loadStationProfile(parsed.profile)
      const env: Record<string, string> = { endpoint: 'LWPROV_ENDPOINT', mode: 'LWPROV_MODE', security: 'LWPROV_SECURITY', server: 'LWPROV_SERVER' }
      const picked = Object.fromEntries(Object.entries(profile).filter(([k]) => ['endpoint', 'mode', 'security', 'server', 'count'].includes(k)))
      flags = mergeSettings(parsed, picked, (k) => isExplicit(this.argv, process.env, k, env[k]))
    }
    const missing = [!flags.count && '--count', !flags.endpoint && '--endpoint'].filter(Boolean)
    if (missing.length > 0) {
      throw usageError('E_FLAGS_MISSING', `Missing ${missing.join(', ')}.`, "Example: --count 500 --endpoint 'urn:dev:os:320973-0973WO{seq:06}'", { missing })
    }
    if (flags.labels && !flags['claim-codes']) {
      throw usageError('E_LABELS_WITHOUT_CODES', '--labels writes claim codes, but --claim-codes was not given.', 'Add --claim-codes.')
    }
    // Claim codes exist only in this process once the batch commits (the manifest keeps hashes), so the labels file
    // must be known writable before anything is recorded: its temporary is created now (never following a symlink,
    // never over an existing file without --force, never over the manifest) and moved into place at the end.
    const labels = flags.labels ? openOutputFile(flags.labels, { force: flags.force, secret: true, flag: '--labels' }) : undefined
    let result: Awaited<ReturnType<typeof createWorkOrder>>
    try {
      const store = await openStoreFromFlags(flags, (fn) => this.onCleanup(fn))
      result = await createWorkOrder(store, {
        name: flags.name,
        count: Number(flags.count),
        template: String(flags.endpoint),
        ...(flags.start === undefined ? {} : { start: flags.start }),
        ...(flags.profile ? { profile: flags.profile } : {}),
        ...(flags['activates-on'] ? { activatesOn: parseWindowDate('--activates-on', flags['activates-on']) } : {}),
        ...(flags['expires-on'] ? { expiresOn: parseWindowDate('--expires-on', flags['expires-on']) } : {}),
        claimCodes: flags['claim-codes'],
        ...(flags.mode ? { mode: flags.mode as AccountMode } : {}),
        ...(flags.security ? { security: flags.security as SecurityKind } : {}),
        ...(flags.server ? { serverUri: String(flags.server) } : {}),
        now,
      })
    } catch (e) {
      if (labels) await labels.abort()
      throw e
    }
    let labelsWritten = false
    if (labels) {
      try {
        labels.stream.write(labelsCsv(flags.name, result.devices))
        await labels.commit()
        labelsWritten = true
      } catch (e) {
        await labels.abort()
        // The batch is committed: show the codes rather than lose them (e.g. the disk filled up).
        const why = (e as { code?: string }).code ?? String(e)
        this.warn(`Could not write ${labels.path} (${why}); the claim codes are shown below instead.`)
      }
    }
    const d = result.devices
    this.out(`Work order ${flags.name}: ${d.length} name${d.length === 1 ? '' : 's'} reserved, ${d[0]!.endpoint}${d.length > 1 ? ` … ${d.at(-1)!.endpoint}` : ''}.`)
    if (flags['claim-codes'] && !labelsWritten) {
      this.out('Claim codes (shown only now; only their hashes are stored):')
      for (const x of d) this.out(`  ${x.endpoint}  ${x.claimCode}`)
    } else if (labelsWritten) {
      this.out(`Claim codes written to ${flags.labels} (mode 0600); they are not shown again.`)
    }
    return {
      ...result.batch,
      reserved: d.length,
      endpoints: d.map((x) => x.endpoint),
      ...(flags['claim-codes'] ? { claimCodes: d.map((x) => ({ endpoint: x.endpoint, claimCode: x.claimCode })) } : {}),
      ...(labelsWritten ? { labels: flags.labels } : {}),
    }
  }
}
