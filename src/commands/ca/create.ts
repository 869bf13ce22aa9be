import { Flags } from '@oclif/core'

import { BaseCommand } from '../../cli/base-command.js'
import { loadParentCa, resolveCaPassphrase } from '../../cli/passphrase.js'
import {
  caResult,
  checkCaDirFree,
  checkNewPassphrase,
  createCa,
  DEFAULT_CA_DAYS,
  describeCa,
  KEY_TYPES,
  recordIssuedCa,
  writeCaDir,
  type CaResult,
  type KeyType,
} from '../../core/pki/index.js'

export default class CaCreate extends BaseCommand {
  static override summary = 'Create a factory CA: a self-signed root, or an intermediate signed by --parent.'

  static override description = `Writes DIR/ca.pem, DIR/chain.pem (this CA up to its root) and DIR/ca.key.pem (encrypted PKCS#8, mode 0600).

The key passphrase comes from LWPROV_CA_PASSPHRASE, --passphrase-file, or a hidden prompt on a terminal — never from a flag value. With --parent, the parent's passphrase comes from LWPROV_PARENT_CA_PASSPHRASE or --parent-passphrase-file, else the same passphrase is tried.

Defaults meet Izuma's CA requirements: EC P-256, basicConstraints CA:true, keyUsage digitalSignature + keyCertSign + cRLSign, 35 years; path length 3 for a root and 0 for an intermediate (chains of at most 5 certificates).`

  static override examples = [
    { description: 'A root CA', command: '<%= config.bin %> <%= command.id %> --name "Acme Root CA" --org Acme --country FI --out ./root-ca' },
    { description: 'An intermediate for production line 1', command: '<%= config.bin %> <%= command.id %> --name "Acme Line 1 CA" --parent ./root-ca --out ./line-ca' },
  ]

  static override flags = {
    name: Flags.string({ summary: 'Subject common name (CN) of the CA.', required: true }),
    out: Flags.string({ summary: 'Directory to write the CA to (created with mode 0700).', required: true }),
    parent: Flags.string({ summary: 'Directory of the CA that signs this one (makes an intermediate).' }),
    'key-type': Flags.string({ summary: 'Key algorithm.', options: [...KEY_TYPES], default: 'ec-p256' }),
    days: Flags.integer({ summary: 'Validity in days (default 35 years; an intermediate ends no later than its parent).', min: 1, default: DEFAULT_CA_DAYS }),
    'path-len': Flags.integer({ summary: 'basicConstraints path length (default 3 for a root, 0 for an intermediate).', min: 0 }),
    org: Flags.string({ summary: 'Subject organization (O).' }),
    'org-unit': Flags.string({ summary: 'Subject organizational unit (OU).' }),
    country: Flags.string({ summary: 'Subject country (C), two letters.' }),
    'passphrase-file': Flags.string({ summary: 'File holding the new key passphrase (else LWPROV_CA_PASSPHRASE, else a prompt).', env: 'LWPROV_PASSPHRASE_FILE' }),
    'parent-passphrase-file': Flags.string({ summary: "File holding the parent CA's passphrase (else LWPROV_PARENT_CA_PASSPHRASE, else the same passphrase)." }),
    force: Flags.boolean({ summary: 'Kept for compatibility: an existing CA is never replaced (move it away first).', default: false, hidden: true }),
  }

  async run(): Promise<CaResult> {
    const { flags } = await this.parse(CaCreate)
    checkCaDirFree(flags.out, flags.force)
    const passphrase = await resolveCaPassphrase({ passphraseFile: flags['passphrase-file'], confirm: true, interactive: true })
    // before any key is generated or parent unlocked
    checkNewPassphrase(passphrase)
    const parent = flags.parent ? await loadParentCa(flags.parent, passphrase, flags['parent-passphrase-file']) : undefined
    const ca = await createCa({
      name: flags.name,
      keyType: flags['key-type'] as KeyType,
      days: flags.days,
      pathLen: flags['path-len'],
      org: flags.org,
      orgUnit: flags['org-unit'],
      country: flags.country,
      parent,
    })
    for (const w of ca.warnings) this.warn(w)
    writeCaDir(flags.out, ca, passphrase, { force: flags.force })
    if (flags.parent) {
      const w = recordIssuedCa(flags.parent, ca.certPem, flags.out)
      if (w) this.warn(w)
    }
    const result = caResult(describeCa(flags.out))
    this.out(
      [
        `${parent ? 'Created intermediate CA' : 'Created root CA'} in ${result.dir}`,
        `  subject      ${result.subject}`,
        `  key type     ${result.keyType}`,
        `  not after    ${result.notAfter}`,
        `  fingerprint  ${result.fingerprint}`,
        `  files        ${Object.values(result.files).join(', ')}`,
      ].join('\n'),
    )
    return result
  }
}
