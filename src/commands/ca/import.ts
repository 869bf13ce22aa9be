import { Flags } from '@oclif/core'

import { auditCaAct, openTokenKey } from '../../cli/ca-keys.js'
import { BaseCommand } from '../../cli/base-command.js'
import { manifestFlags, pkcs11Flags } from '../../cli/flags.js'
import { promptPassphrase, resolveCaPassphrase } from '../../cli/passphrase.js'
import { isLwprovError, usageError } from '../../core/errors.js'
import { caResult, checkCaDirFree, checkNewPassphrase, describeCa, importCa, importTokenCa, writeCaDir, writeTokenCaDir, type CaResult, type CreatedCa } from '../../core/pki/index.js'

export default class CaImport extends BaseCommand {
  static override summary = 'Adopt an existing CA: a certificate and key file (re-encrypted under a new passphrase), or a key in a PKCS#11 token.'

  static override description = `--cert takes PEM or DER; a PEM file may continue with the issuers up to the root (leaf first). --key takes PEM or DER, PKCS#8, SEC1 or PKCS#1, encrypted or not. The certificate must be a CA (basicConstraints CA:true) and the key must match it.

With --pkcs11 the key stays in the token: DIR gets the certificate (from --cert, else the token's certificate object with the same label/id) and ca.key.uri. The token key must sign for the certificate.

The existing key's passphrase comes from LWPROV_CA_IMPORT_PASSPHRASE, else a prompt on a terminal, else the new passphrase is tried. The new passphrase comes from LWPROV_CA_PASSPHRASE, --passphrase-file, or a hidden prompt.`

  static override examples = [
    {
      description: 'Import a CA made with OpenSSL',
      command: 'LWPROV_CA_IMPORT_PASSPHRASE=… <%= config.bin %> <%= command.id %> --cert ca.crt --key ca.key --out ./imported-ca',
    },
    { description: 'Adopt a CA key already in a token', command: "<%= config.bin %> <%= command.id %> --pkcs11 'pkcs11:token=Factory;object=line3-ca' --cert line3.pem --pin-file ./pin --out ./line3-ca" },
  ]

  static override flags = {
    cert: Flags.string({ summary: 'CA certificate file (PEM or DER; PEM may include the chain).' }),
    key: Flags.string({ summary: 'CA private key file (PEM or DER; PKCS#8, SEC1 or PKCS#1; encrypted or not).', exclusive: ['pkcs11'] }),
    out: Flags.string({ summary: 'Directory to write the CA to (created with mode 0700).', required: true }),
    chain: Flags.string({ summary: "PEM file with the CA's issuers up to the root, if not in --cert." }),
    'passphrase-file': Flags.string({ summary: 'File holding the new key passphrase (else LWPROV_CA_PASSPHRASE, else a prompt).', env: 'LWPROV_PASSPHRASE_FILE' }),
    ...pkcs11Flags,
    ...manifestFlags,
    force: Flags.boolean({ summary: 'Kept for compatibility: an existing CA is never replaced (move it away first).', default: false, hidden: true }),
  }

  async run(): Promise<CaResult> {
    const { flags } = await this.parse(CaImport)
    checkCaDirFree(flags.out, flags.force)
    if (flags.pkcs11) {
      const token = await openTokenKey(flags, '')
      try {
        const ca = await importTokenCa(token.signer.session, { ...(flags.cert ? { certPath: flags.cert } : {}), ...(flags.chain ? { chainPath: flags.chain } : {}) })
        for (const w of ca.warnings) this.warn(w)
        writeTokenCaDir(flags.out, ca, { ...token.uri, modulePath: token.uri.modulePath ?? token.module })
      } finally {
        token.signer.session.close()
      }
    } else {
      const missing = (['cert', 'key'] as const).filter((k) => !flags[k]).map((k) => `--${k}`)
      if (missing.length) throw usageError('E_FLAGS_MISSING', `Missing ${missing.join(', ')}.`, 'Pass --cert and --key, or --pkcs11 URI for a key in a token.', { missing })
      const passphrase = await resolveCaPassphrase({ passphraseFile: flags['passphrase-file'], confirm: true, interactive: true })
      checkNewPassphrase(passphrase)
      const opts = { certPath: flags.cert!, keyPath: flags.key!, chainPath: flags.chain }
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
    }
    const result = caResult(describeCa(flags.out))
    await auditCaAct(flags, { action: 'ca.imported', subject: result.subject, details: { fingerprint: result.fingerprint, pkcs11: result.pkcs11 ?? null } }, (fn) => this.onCleanup(fn))
    this.out(
      [`Imported CA into ${result.dir}`, `  subject      ${result.subject}`, `  key type     ${result.keyType}`, `  not after    ${result.notAfter}`, `  fingerprint  ${result.fingerprint}`]
        .concat(result.pkcs11 ? [`  key          ${result.pkcs11} (in the token)`] : [])
        .join('\n'),
    )
    return result
  }
}
