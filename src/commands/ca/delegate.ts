import { Flags } from '@oclif/core'

import { loadParentCa, openTokenKey } from '../../cli/ca-keys.js'
import { BaseCommand } from '../../cli/base-command.js'
import { openStoreFromFlags } from '../../cli/context.js'
import { manifestFlags, pkcs11Flags } from '../../cli/flags.js'
import { resolveCaPassphrase } from '../../cli/passphrase.js'
import { usageError } from '../../core/errors.js'
import { caResult, checkCaDirFree, checkNewPassphrase, createCa, describeCa, KEY_TYPES, recordIssuedCa, writeCaDir, writeTokenCaDir, type CaResult, type KeyType } from '../../core/pki/index.js'
import { delegationRecord } from '../../core/pki/delegate.js'

export default class CaDelegate extends BaseCommand {
  static override summary = 'Delegate a line CA: an intermediate (path length 0) with a bounded validity and an issuance quota recorded in the manifest.'

  static override description = `The station of a line gets the line CA (a key file or a token key), never the root. The quota (--max-certificates) is recorded in the manifest and enforced on every issue under the line CA (E_CA_QUOTA); \`lwprov ca revoke --ca DIR\` stops it.

The parent's key is unlocked with --pin-file / LWPROV_PKCS11_PIN (token) or LWPROV_PARENT_CA_PASSPHRASE / --parent-passphrase-file (file). The line CA's new key goes into a token with --pkcs11, else into DIR/ca.key.pem under LWPROV_CA_PASSPHRASE / --passphrase-file.`

  static override examples = [
    {
      description: 'Line 3 may issue 10,000 certificates until mid-2027',
      command: '<%= config.bin %> <%= command.id %> --parent ./root-ca --pin-file ./pin --name "Line 3" --max-certificates 10000 --not-after 2027-06-30 --out ./line3-ca',
    },
  ]

  static override flags = {
    parent: Flags.string({ summary: 'Directory of the CA that signs the line CA (the root).', required: true }),
    name: Flags.string({ summary: 'Subject common name (CN) of the line CA.', required: true }),
    out: Flags.string({ summary: 'Directory to write the line CA to.', required: true }),
    'max-certificates': Flags.integer({ summary: 'How many device certificates the line CA may issue (recorded in the manifest).', min: 1 }),
    'not-after': Flags.string({ summary: 'Last day of validity, YYYY-MM-DD (end of that day, UTC).', required: true }),
    'key-type': Flags.string({ summary: 'Key algorithm of the line CA.', options: [...KEY_TYPES], default: 'ec-p256' }),
    org: Flags.string({ summary: 'Subject organization (O).' }),
    'passphrase-file': Flags.string({ summary: 'File holding the line CA key passphrase (else LWPROV_CA_PASSPHRASE, else a prompt).', env: 'LWPROV_PASSPHRASE_FILE' }),
    'parent-passphrase-file': Flags.string({ summary: "File holding the parent CA's passphrase (file parent)." }),
    ...pkcs11Flags,
    ...manifestFlags,
  }

  async run(): Promise<CaResult & { maxCertificates: number | null }> {
    const { flags } = await this.parse(CaDelegate)
    checkCaDirFree(flags.out, false)
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(flags['not-after'])
    const notAfter = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), 23, 59, 59)) : undefined
    if (!notAfter || Number.isNaN(notAfter.getTime()) || notAfter.toISOString().slice(0, 10) !== flags['not-after']) {
      throw usageError('E_DATE_INVALID', `--not-after must be a date YYYY-MM-DD (got "${flags['not-after']}").`, 'Pass e.g. --not-after 2027-06-30.')
    }
    const keyType = flags['key-type'] as KeyType
    const passphrase = flags.pkcs11 ? undefined : await resolveCaPassphrase({ passphraseFile: flags['passphrase-file'], confirm: true, interactive: true })
    if (passphrase !== undefined) checkNewPassphrase(passphrase)
    // The manifest first: the quota must be recordable before a CA exists that could issue without it.
    const store = await openStoreFromFlags(flags, (fn) => this.onCleanup(fn))
    const parent = await loadParentCa(flags.parent, flags)
    this.onCleanup(async () => parent.signer.close?.())
    const token = flags.pkcs11 ? await openTokenKey(flags, keyType) : undefined
    let certPem: string
    try {
      const key = token?.signer.session.generate(keyType)
      const ca = await createCa({ name: flags.name, keyType, days: 1, notAfter, pathLen: 0, org: flags.org, parent, ...(token && key ? { key: { spki: key.spki, signer: token.signer } } : {}) })
      for (const w of ca.warnings) this.warn(w)
      certPem = ca.certPem
      if (token && key) writeTokenCaDir(flags.out, ca, { ...token.uri, id: token.uri.id ?? key.id, modulePath: token.uri.modulePath ?? token.module })
      else writeCaDir(flags.out, ca, passphrase!)
    } finally {
      token?.signer.session.close()
    }
    const w = recordIssuedCa(flags.parent, certPem, flags.out)
    if (w) this.warn(w)
    const rec = delegationRecord(certPem, parent.fingerprint, flags['max-certificates'] ?? null)
    await store.registerCa(rec, { action: 'ca.delegated', subject: rec.subject, details: { fingerprint: rec.fingerprint, parent: parent.fingerprint, maxCertificates: rec.maxCertificates, notAfter: rec.notAfter } })
    const result = { ...caResult(describeCa(flags.out)), maxCertificates: rec.maxCertificates }
    this.out(
      [
        `Delegated line CA in ${result.dir}`,
        `  subject      ${result.subject}`,
        `  not after    ${result.notAfter}`,
        `  quota        ${rec.maxCertificates ?? 'unlimited'} certificates (recorded in the manifest)`,
        `  fingerprint  ${result.fingerprint}`,
      ].join('\n'),
    )
    return result
  }
}
