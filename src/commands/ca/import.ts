import { Flags } from '@oclif/core'

import { BaseCommand } from '../../cli/base-command.js'
import { promptPassphrase, resolveCaPassphrase } from '../../cli/passphrase.js'
import { isLwprovError } from '../../core/errors.js'
import { caResult, checkCaDirFree, checkNewPassphrase, describeCa, importCa, writeCaDir, type CaResult, type CreatedCa } from '../../core/pki/index.js'

export default class CaImport extends BaseCommand {
  static override summary = 'Adopt an existing CA certificate and key, re-encrypting the key under a new passphrase.'

  static override description = `--cert takes PEM or DER; a PEM file may continue with the issuers up to the root (leaf first). --key takes PEM or DER, PKCS#8, SEC1 or PKCS#1, encrypted or not. The certificate must be a CA (basicConstraints CA:true) and the key must match it.

The existing key's passphrase comes from LWPROV_CA_IMPORT_PASSPHRASE, else a prompt on a terminal, else the new passphrase is tried. The new passphrase comes from LWPROV_CA_PASSPHRASE, --passphrase-file, or a hidden prompt.`

  static override examples = [
    {
      description: 'Import a CA made with OpenSSL',
      command: 'LWPROV_CA_IMPORT_PASSPHRASE=… <%= config.bin %> <%= command.id %> --cert ca.crt --key ca.key --out ./imported-ca',
    },
  ]

  static override flags = {
    cert: Flags.string({ summary: 'CA certificate file (PEM or DER; PEM may include the chain).', required: true }),
    key: Flags.string({ summary: 'CA private key file (PEM or DER; PKCS#8, SEC1 or PKCS#1; encrypted or not).', required: true }),
    out: Flags.string({ summary: 'Directory to write the CA to (created with mode 0700).', required: true }),
    chain: Flags.string({ summary: "PEM file with the CA's issuers up to the root, if not in --cert." }),
    'passphrase-file': Flags.string({ summary: 'File holding the new key passphrase (else LWPROV_CA_PASSPHRASE, else a prompt).', env: 'LWPROV_PASSPHRASE_FILE' }),
    force: Flags.boolean({ summary: 'Kept for compatibility: an existing CA is never replaced (move it away first).', default: false, hidden: true }),
  }

  async run(): Promise<CaResult> {
    const { flags } = await this.parse(CaImport)
    checkCaDirFree(flags.out, flags.force)
    const passphrase = await resolveCaPassphrase({ passphraseFile: flags['passphrase-file'], confirm: true, interactive: true })
    // before any key is generated or parent unlocked
    checkNewPassphrase(passphrase)
    const opts = { certPath: flags.cert, keyPath: flags.key, chainPath: flags.chain }
    let ca: CreatedCa
    try {
      ca = await importCa({ ...opts, keyPassphrase: process.env.LWPROV_CA_IMPORT_PASSPHRASE || undefined })
    } catch (error) {
      if (!isLwprovError(error) || error.code !== 'E_CA_IMPORT_PASSPHRASE_MISSING') throw error
      const existing = (await promptPassphrase('Passphrase of the key being imported')) ?? passphrase
      ca = await importCa({ ...opts, keyPassphrase: existing })
    }
    for (const w of ca.warnings) this.warn(w)
    writeCaDir(flags.out, ca, passphrase, { force: flags.force })
    const result = caResult(describeCa(flags.out))
    this.out(
      [
        `Imported CA into ${result.dir}`,
        `  subject      ${result.subject}`,
        `  key type     ${result.keyType}`,
        `  not after    ${result.notAfter}`,
        `  fingerprint  ${result.fingerprint}`,
      ].join('\n'),
    )
    return result
  }
}
