import { Flags } from '@oclif/core'

import { auditCaAct, createCaFromFlags } from '../../cli/ca-keys.js'
import { BaseCommand } from '../../cli/base-command.js'
import { manifestFlags, pkcs11Flags } from '../../cli/flags.js'
import { caResult, DEFAULT_CA_DAYS, describeCa, KEY_TYPES, type CaResult } from '../../core/pki/index.js'

export default class CaCreate extends BaseCommand {
  static override summary = 'Create a factory CA: a self-signed root, or an intermediate signed by --parent; the key in a file or a PKCS#11 token.'

  static override description = `Writes DIR/ca.pem, DIR/chain.pem (this CA up to its root) and DIR/ca.key.pem (encrypted PKCS#8, mode 0600).

With --pkcs11 the key is generated inside the token (sensitive, never extractable) and DIR holds only the certificates and ca.key.uri, the key's PKCS#11 URI. The PIN comes from --pin-file, LWPROV_PKCS11_PIN or a hidden prompt; the module from the URI's module-path, --module or LWPROV_PKCS11_MODULE.

The key passphrase comes from LWPROV_CA_PASSPHRASE, --passphrase-file, or a hidden prompt on a terminal — never from a flag value. With --parent, the parent's passphrase comes from LWPROV_PARENT_CA_PASSPHRASE or --parent-passphrase-file, else the same passphrase is tried (a token parent uses the PIN).

Defaults meet Izuma's CA requirements: EC P-256, basicConstraints CA:true, keyUsage digitalSignature + keyCertSign + cRLSign, 35 years; path length 3 for a root and 0 for an intermediate (chains of at most 5 certificates).`

  static override examples = [
    { description: 'A root CA', command: '<%= config.bin %> <%= command.id %> --name "Acme Root CA" --org Acme --country FI --out ./root-ca' },
    { description: 'An intermediate for production line 1', command: '<%= config.bin %> <%= command.id %> --name "Acme Line 1 CA" --parent ./root-ca --out ./line-ca' },
    {
      description: 'A root CA whose key never leaves a SoftHSM2 token',
      command: "<%= config.bin %> <%= command.id %> --name \"Acme Root CA\" --pkcs11 'pkcs11:token=Factory;object=root-ca' --module /usr/lib/softhsm/libsofthsm2.so --pin-file ./pin --out ./root-ca",
    },
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
    ...pkcs11Flags,
    ...manifestFlags,
    force: Flags.boolean({ summary: 'Kept for compatibility: an existing CA is never replaced (move it away first).', default: false, hidden: true }),
  }

  async run(): Promise<CaResult> {
    const { flags } = await this.parse(CaCreate)
    const { parent } = await createCaFromFlags(flags, (w) => this.warn(w))
    const result = caResult(describeCa(flags.out))
    await auditCaAct(flags, { action: 'ca.created', subject: result.subject, details: { fingerprint: result.fingerprint, parent: parent?.fingerprint ?? null, pkcs11: result.pkcs11 ?? null } }, (fn) => this.onCleanup(fn))
    this.out(
      [
        `${parent ? 'Created intermediate CA' : 'Created root CA'} in ${result.dir}`,
        `  subject      ${result.subject}`,
        `  key type     ${result.keyType}`,
        `  not after    ${result.notAfter}`,
        `  fingerprint  ${result.fingerprint}`,
        `  ${result.pkcs11 ? `key          ${result.pkcs11} (in the token)` : ''}`,
        `  files        ${Object.values(result.files).join(', ')}`,
      ].filter((l) => l.trim() !== '').join('\n'),
    )
    return result
  }
}
