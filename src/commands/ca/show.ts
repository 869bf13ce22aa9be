import { Args, Flags } from '@oclif/core'

import { BaseCommand } from '../../cli/base-command.js'
import { usageError } from '../../core/errors.js'
import { describeCa, type CaDescription } from '../../core/pki/index.js'

export default class CaShow extends BaseCommand {
  static override summary = "Show a CA: subject, issuer, validity, SHA-256 fingerprint, key type, path length and chain."

  static override description = 'Reads only the certificates (ca.pem, chain.pem): no passphrase is needed.'

  static override examples = [
    { description: 'Show the line CA', command: '<%= config.bin %> <%= command.id %> --ca ./line-ca' },
    { description: 'As JSON', command: '<%= config.bin %> <%= command.id %> --ca ./line-ca --json' },
  ]

  static override flags = {
    ca: Flags.string({ summary: 'CA directory (ca.pem, chain.pem, ca.key.pem).', env: 'LWPROV_CA' }),
  }

  // `lwprov ca show ./line-ca` reads as naturally as --ca ./line-ca (and must never be "command not found")
  static override args = {
    dir: Args.string({ description: 'CA directory (same as --ca).', required: false }),
  }

  async run(): Promise<CaDescription> {
    const { args, flags } = await this.parse(CaShow)
    const dir = args.dir ?? flags.ca
    if (dir === undefined) throw usageError('E_FLAGS_MISSING', 'Missing the CA directory.', 'Pass --ca DIR (or the directory as an argument).', { missing: ['--ca'] })
    const d = describeCa(dir)
    this.out(
      [
        `subject      ${d.subject}`,
        `issuer       ${d.issuer}${d.selfSigned ? ' (self-signed root)' : ''}`,
        `serial       ${d.serialHex}`,
        `not before   ${d.notBefore}`,
        `not after    ${d.notAfter}`,
        `fingerprint  SHA-256 ${d.fingerprint}`,
        `key type     ${d.keyType}`,
        `key          ${d.pkcs11 ? `${d.pkcs11} (in a PKCS#11 token)` : d.files.key}`,
        `path length  ${d.pathLen ?? 'unlimited'}`,
        'chain',
        ...d.chain.map((c, i) => `  ${i}  ${c.subject}`),
      ].join('\n'),
    )
    return d
  }
}
