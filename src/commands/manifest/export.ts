import { Flags } from '@oclif/core'

import { BaseCommand, toLwprovError } from '../../cli/base-command.js'
import { masterKeyFromFlags, openStoreFromFlags } from '../../cli/context.js'
import { exportCrl, exportToFiles } from '../../cli/export-extras.js'
import { caFlags, manifestFlags } from '../../cli/flags.js'
import { usageError } from '../../core/errors.js'
import { exportToStdout } from '../../cli/export-stdout.js'
import { FORMAT_NAMES, getFormat } from '../../core/manifest/export/index.js'
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
    format: Flags.string({ summary: 'Output format (crl: the revocation list of --ca, signed by it).', options: [...FORMAT_NAMES, 'crl'], required: true, char: 'f' }),
    out: Flags.string({ summary: 'Output file (directory for pem); default stdout.', char: 'o' }),
    batch: Flags.string({ summary: 'Only this batch / work order.' }),
    status: Flags.string({ summary: `Only these statuses (repeat or comma-separate): ${ENDPOINT_STATUSES.join(', ')}. Server formats default to generated, injected, verified.`, multiple: true }),
    since: Flags.string({ summary: 'Only rows updated at or after this ISO date, or within a duration such as 7d.' }),
    developer: Flags.boolean({ summary: 'Only developer (devcert) rows; --no-developer leaves them out.', allowNo: true }),
    force: Flags.boolean({ summary: 'Replace existing output files (never the manifest or a CA file).' }),
    'include-secrets': Flags.boolean({ summary: 'Include PSKs (hex) and private keys (PEM). Handle the output as a secret.' }),
    digest: Flags.boolean({ summary: 'Write FILE.sha256 beside each output file (SHA256SUMS in a pem directory). Needs --out.' }),
    domain: Flags.string({ summary: 'Coiote DM domain for the coiote format.', default: '/' }),
    'fw-types': Flags.string({ summary: 'nRF Cloud fwTypes column (| separated).', default: 'APP|MODEM' }),
    sign: Flags.boolean({ summary: 'Write a detached signature FILE.jws by the manifest signing key (from the master key) beside each file; check it with `manifest verify-export`.' }),
    ...caFlags,
  }

  private streamedEnvelope = false

  protected override logJson(json: unknown): void {
    if (!this.streamedEnvelope) super.logJson(json)
  }

  override async catch(err: Error & { exitCode?: number }): Promise<void> {
    // Half an envelope is already on stdout: put the error where it can be seen (stderr) as well as in the exit code.
    if (this.streamedEnvelope && this.jsonEnabled()) {
      process.exitCode = toLwprovError(err).exitCode
      process.stderr.write(`${JSON.stringify(this.toErrorJson(err))}\n`)
      return
    }
    return super.catch(err)
  }

  async run() {
    const { flags } = await this.parse(ManifestExport)
    // secrets leaving and signatures are recorded in the audit trail: those exports open the manifest for writing
    const audited = flags['include-secrets'] || flags.sign || flags.format === 'crl'
    if (flags.format === 'crl') return exportCrl(await openStoreFromFlags(flags, (fn) => this.onCleanup(fn), { create: false }), flags, (fn) => this.onCleanup(fn))
    if (flags.sign && !flags.out) throw usageError('E_SIGN_NEEDS_OUT', '--sign writes FILE.jws beside the export, so it needs --out.', 'Add --out FILE.')
    const format = getFormat(flags.format)
    const filter = buildFilter(flags)
    if (flags.digest && !flags.out) throw usageError('E_DIGEST_NEEDS_OUT', '--digest writes a file beside the export, so it needs --out.', 'Add --out FILE, or pipe stdout through sha256sum.')
    const json = this.jsonEnabled()
    if (json && !flags.out && format.name !== 'json') {
      throw usageError('E_JSON_NEEDS_OUT', `With --json, stdout carries the envelope; a ${format.name} export needs --out.`, 'Add --out FILE, or drop --json.')
    }
    const masterKey = flags['include-secrets'] || flags.sign ? masterKeyFromFlags(flags, true) : undefined
    const store = await openStoreFromFlags(flags, (fn) => this.onCleanup(fn), audited ? { create: false } : { readonly: true })
    const opts = {
      filter,
      includeSecrets: flags['include-secrets'],
      ...(masterKey ? { masterKey } : {}),
      domain: flags.domain,
      fwTypes: flags['fw-types'],
      manifest: await store.info(),
    }
    if (!flags.out) {
      // on a terminal the secrets land in scrollback and session logs; a file or pipe the user named is their choice
      if (flags['include-secrets'] && process.stdout.isTTY) this.warn('device secrets are being printed to the terminal (scrollback, session logs): use --out FILE (written 0600) instead.')
      return exportToStdout(store, format, opts, {
        json,
        onEnvelope: () => (this.streamedEnvelope = true),
        info: (t) => this.info(t),
        onCleanup: (fn) => this.onCleanup(fn),
        // secrets that left the manifest are an audited act, wherever they went
        ...(audited ? { onDone: async (r) => void (await store.appendAudit([{ action: 'exported.secrets', subject: 'stdout', details: { format: r.format, rows: r.rows } }])) } : {}),
      })
    }
    const r = await exportToFiles(store, format, opts, { out: flags.out, digest: flags.digest, force: flags.force, sign: flags.sign, includeSecrets: flags['include-secrets'], masterKey, audited })
    this.out(`${r.rows} row(s) exported as ${r.format}: ${r.files.join(', ') || '(no files)'}${r.signatures ? `; signed: ${r.signatures.join(', ')}` : ''}`)
    if (flags['include-secrets']) this.warn(`${flags.out} holds device secrets in plaintext: keep it 0600, move it over an encrypted channel, delete it after import.`)
    return r
  }
}
