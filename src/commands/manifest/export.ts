import { Flags } from '@oclif/core'

import { BaseCommand } from '../../cli/base-command.js'
import { masterKeyFromFlags, openStoreFromFlags } from '../../cli/context.js'
import { manifestFlags } from '../../cli/flags.js'
import { usageError } from '../../core/errors.js'
import { exportManifest, FORMAT_NAMES, fileTarget, getFormat, streamTarget } from '../../core/manifest/export/index.js'
import { buildFilter } from '../../core/manifest/query.js'
import { ENDPOINT_STATUSES } from '../../core/manifest/types.js'

export default class ManifestExport extends BaseCommand {
  static override summary = 'Export the manifest, streamed: csv, json, ndjson, pem, or a server import format.'

  static override description = `Formats: ${FORMAT_NAMES.join(', ')}.
Without --out the export goes to stdout as the format itself (json: a bare array of rows), so it pipes. Chunked formats (coiote ≤ 100 devices, nrfcloud-onboard ≤ 1,000 rows) write NAME-001.ext, NAME-002.ext… when one file is not enough; pem writes a directory.
Secrets (PSKs as hex, private keys as PEM) appear only with --include-secrets, which needs the master key (LWPROV_MASTER_KEY or --key-file); files are written 0600.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --format csv --out devices.csv --digest',
    '<%= config.bin %> <%= command.id %> --format json --batch line2-2026-03 --status verified',
    '<%= config.bin %> <%= command.id %> --format izuma-enrollment --out enrollments.csv',
    'LWPROV_MASTER_KEY=… <%= config.bin %> <%= command.id %> --format wakaama-bootstrap-ini --include-secrets --out bootstrap_server.ini',
    '<%= config.bin %> <%= command.id %> --format pem --out certs/',
  ]

  static override flags = {
    ...manifestFlags,
    format: Flags.string({ summary: 'Output format.', options: FORMAT_NAMES, required: true, char: 'f' }),
    out: Flags.string({ summary: 'Output file (directory for pem); default stdout.', char: 'o' }),
    batch: Flags.string({ summary: 'Only this batch / work order.' }),
    status: Flags.string({ summary: `Only these statuses (repeat or comma-separate): ${ENDPOINT_STATUSES.join(', ')}.`, multiple: true }),
    since: Flags.string({ summary: 'Only rows updated at or after this ISO date, or within a duration such as 7d.' }),
    developer: Flags.boolean({ summary: 'Only developer (devcert) rows; --no-developer leaves them out.', allowNo: true }),
    'include-secrets': Flags.boolean({ summary: 'Include PSKs (hex) and private keys (PEM). Handle the output as a secret.' }),
    digest: Flags.boolean({ summary: 'Write FILE.sha256 beside each output file (SHA256SUMS in a pem directory). Needs --out.' }),
    domain: Flags.string({ summary: 'Coiote DM domain for the coiote format.', default: '/' }),
    'fw-types': Flags.string({ summary: 'nRF Cloud fwTypes column (| separated).', default: 'APP|MODEM' }),
  }

  private streamedEnvelope = false

  protected override logJson(json: unknown): void {
    if (!this.streamedEnvelope) super.logJson(json)
  }

  async run() {
    const { flags } = await this.parse(ManifestExport)
    const format = getFormat(flags.format)
    const filter = buildFilter(flags)
    if (flags.digest && !flags.out) throw usageError('E_DIGEST_NEEDS_OUT', '--digest writes a file beside the export, so it needs --out.', 'Add --out FILE, or pipe stdout through sha256sum.')
    const json = this.jsonEnabled()
    if (json && !flags.out && format.name !== 'json') {
      throw usageError('E_JSON_NEEDS_OUT', `With --json, stdout carries the envelope; a ${format.name} export needs --out.`, 'Add --out FILE, or drop --json.')
    }
    const masterKey = flags['include-secrets'] ? masterKeyFromFlags(flags, true) : undefined
    const store = await openStoreFromFlags(flags, (fn) => this.onCleanup(fn))
    const opts = {
      filter,
      includeSecrets: flags['include-secrets'],
      ...(masterKey ? { masterKey } : {}),
      domain: flags.domain,
      fwTypes: flags['fw-types'],
    }
    // EPIPE (e.g. `| head`) ends the export quietly instead of with a stack trace.
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(0)
    })
    if (!flags.out) {
      if (json) {
        // The envelope is streamed around the rows so a big export never sits in memory.
        this.streamedEnvelope = true
        process.stdout.write('{"status":0,"result":')
        await exportManifest(store, format, opts, streamTarget(process.stdout))
        process.stdout.write('}\n')
        return undefined
      }
      const r = await exportManifest(store, format, opts, streamTarget(process.stdout))
      this.info(`${r.rows} row(s) exported as ${r.format}.`)
      return r
    }
    const r = await exportManifest(store, format, opts, fileTarget(flags.out, { digest: flags.digest }))
    this.out(`${r.rows} row(s) exported as ${r.format}: ${r.files.join(', ') || '(no files)'}`)
    if (flags['include-secrets']) this.warn(`${flags.out} holds device secrets in plaintext: keep it 0600, move it over an encrypted channel, delete it after import.`)
    return r
  }
}
