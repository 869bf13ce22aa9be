import { basename, relative, resolve } from 'node:path'

import { Flags } from '@oclif/core'

import { BaseCommand } from '../cli/base-command.js'
import { deviceInfoFromFlags, isInteractive, masterKeyFromFlags, openStoreFromFlags, profileFromFlags } from '../cli/context.js'
import { caFlags, credentialProfileFlags, deviceInfoFlags, manifestFlags } from '../cli/flags.js'
import { resolveCaPassphrase } from '../cli/passphrase.js'
import {
  DEFAULT_MAX_DEVICES,
  defaultDeveloperCaDir,
  developerMasterKey,
  FILTER_NAMES,
  gitUnignored,
  listBuiltinTemplates,
  loadTemplate,
  MODEL_FIELD_DOCS,
  openDeveloperCa,
  prepareOutputDir,
  runDevcert,
  writeOutputFiles,
} from '../core/devcert/index.js'

export default class Devcert extends BaseCommand {
  static override summary = 'Issue a developer certificate (or PSK) and render it into firmware source.'

  static override description = `One command gives a firmware developer a working credential in the form their build takes. The certificate is signed by a developer CA (--ca DIR, default ~/.config/lwprov/dev-ca, created on first use as "lwprov Developer CA", key encrypted with LWPROV_CA_PASSPHRASE / --passphrase-file / a prompt), recorded in the manifest as a developer credential (batch devcert, so exports can leave it out) under the usual uniqueness rule, and rendered through a template. A second devcert for the same endpoint fails unless --reuse renders the stored credential again. One developer CA issues at most --max-devices (default ${DEFAULT_MAX_DEVICES}) credentials unless --force.

Built-in templates (--template NAME): ${listBuiltinTemplates().join(', ')}. izuma = mbed_cloud_dev_credentials.c for Izuma Device Management Client (needs --server-ca); c = LwM2M /0 and /1 values as X.c + X.h; zephyr = X.c + X.h + X.conf Kconfig fragment (PSK as hex); esp-idf = X.h + DER files + X.cmake (EMBED_FILES) + X.sdkconfig.defaults; arduino = one header. Or --template PATH: your own template file, or a directory with template.json.

Template language: {{name}}, {{a.b | filter arg}}, {{#if x}}…{{else}}…{{/if}} (x, !x, x == "lit", x != "lit"), {{#unless x}}, {{#each list}}, {{! comment}}; unknown names are errors. Filters: ${FILTER_NAMES.join(', ')}. Full reference: templates/devcert/README.md in the package. Data model:
${MODEL_FIELD_DOCS.map(([k, v]) => `  ${k}: ${v}`).join('\n')}

The output holds a secret key: files are written mode 0600 and a warning is printed when git would not ignore them. Without LWPROV_MASTER_KEY or --key-file the manifest row is sealed with a per-user key kept beside the developer CA (master.key, 0600).`

  static override examples = [
    {
      description: 'Izuma developer credentials file',
      command:
        '<%= config.bin %> <%= command.id %> --endpoint dev-board-01 --server "coaps://bootstrap.example.com:5684?aid=0123456789abcdef0123456789abcdef" --server-ca bootstrap-ca.pem --template izuma --out mbed_cloud_dev_credentials.c',
    },
    {
      description: 'Generic C header + source for a direct LwM2M server',
      command: '<%= config.bin %> <%= command.id %> --endpoint dev-board-02 --server coaps://lwm2m.example.com:5684 --mode direct --template c --out src/lwm2m_dev_credentials.c',
    },
    {
      description: 'Zephyr Kconfig fragment with a PSK, rendered again later with --reuse',
      command: '<%= config.bin %> <%= command.id %> --endpoint dev-board-03 --server coaps://lwm2m.example.com:5684 --mode direct --security psk --template zephyr --out dev_credentials.c --reuse',
    },
  ]

  static override flags = {
    endpoint: Flags.string({ summary: 'Endpoint name of the development device (the certificate CN).', required: true }),
    template: Flags.string({ summary: 'Built-in template (izuma, c, zephyr, esp-idf, arduino) or the path of your own.', required: true }),
    out: Flags.string({ summary: 'Output file; templates with several files write them beside it (X.c → X.h).', required: true }),
    reuse: Flags.boolean({ summary: 'If the endpoint already has a developer credential, render that one instead of failing.' }),
    force: Flags.boolean({ summary: 'Replace existing output files (never the manifest or a CA file), and issue even when the developer CA has reached --max-devices.' }),
    'max-devices': Flags.integer({ summary: 'Credentials one developer CA may issue.', default: DEFAULT_MAX_DEVICES, min: 1 }),
    ...credentialProfileFlags,
    ca: Flags.string({ summary: 'Developer CA directory (default: ~/.config/lwprov/dev-ca, created on first use).', env: 'LWPROV_DEV_CA' }),
    'passphrase-file': caFlags['passphrase-file'],
    ...manifestFlags,
    ...deviceInfoFlags,
  }

  async run() {
    const { flags } = await this.parse(Devcert)
    const now = new Date()
    const template = loadTemplate(flags.template)
    const profile = profileFromFlags({ ...flags, mode: flags.mode ?? 'bootstrap', security: flags.security ?? 'cert' })
    const caDir = flags.ca ?? defaultDeveloperCaDir()
    const explicitKey = masterKeyFromFlags(flags, false)
    const devKey = developerMasterKey(caDir, explicitKey === undefined)
    if (devKey?.created) this.info(`Created the per-user manifest key ${devKey.file} (0600) for developer credentials.`)
    const store = await openStoreFromFlags(flags, (fn) => this.onCleanup(fn))
    const outcome = await runDevcert(
      {
        endpoint: flags.endpoint,
        profile,
        device: deviceInfoFromFlags(flags) ?? {},
        template,
        outName: basename(flags.out),
        reuse: flags.reuse,
        force: flags.force,
        maxDevices: flags['max-devices'],
        now,
        generator: `lwprov ${this.config.version}`,
      },
      {
        store,
        masterKeys: [explicitKey, devKey?.key].filter((k): k is Buffer => k !== undefined),
        prepareOutput: (names) => prepareOutputDir(flags.out, names, flags.force),
        developerCa: () =>
          openDeveloperCa({
            dir: caDir,
            isDefault: flags.ca === undefined,
            now,
            passphrase: (creating) =>
              resolveCaPassphrase({
                ...(flags['passphrase-file'] ? { passphraseFile: flags['passphrase-file'] } : {}),
                confirm: creating,
                interactive: isInteractive(),
                message: creating ? 'New developer CA passphrase' : 'Developer CA passphrase',
              }),
          }),
      },
    )
    if (outcome.developerCaCreated) this.info(`Created the developer CA in ${outcome.developerCa}.`)
    const files = await writeOutputFiles(flags.out, outcome.files, flags.force)
    for (const w of outcome.warnings) this.warn(w)
    // only the files that carry the key or PSK: a template rendering the certificate alone is no secret
    const exposed = gitUnignored(files.filter((_, i) => outcome.files[i]!.secret))
    if (exposed.length > 0) {
      this.warn(`${exposed.map(shortPath).join(', ')} ${exposed.length === 1 ? 'is' : 'are'} inside a git work tree and not ignored, and hold${exposed.length === 1 ? 's' : ''} a secret key: add ${exposed.length === 1 ? 'it' : 'them'} to .gitignore.`)
    }
    this.out(
      `${outcome.reused ? 'Rendered the existing' : 'Issued a'} developer ${outcome.model.security === 'psk' ? 'PSK' : 'certificate'} for ${outcome.endpoint} into ${files.map(shortPath).join(', ')}` +
        (outcome.fingerprint ? ` (SHA-256 ${outcome.fingerprint})` : '') +
        '.',
    )
    return {
      out: resolve(flags.out),
      files,
      endpoint: outcome.endpoint,
      fingerprint: outcome.fingerprint,
      template: template.id,
      reused: outcome.reused,
      notAfter: outcome.notAfter,
      developerCa: outcome.developerCa,
      manifest: store.location,
    }
  }
}

/** A path relative to the working directory when it lies below it, else absolute. */
function shortPath(p: string): string {
  const r = relative(process.cwd(), p)
  return r === '' || r.startsWith('..') ? p : r
}
