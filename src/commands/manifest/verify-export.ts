import { Args, Flags } from '@oclif/core'
import { readFileSync } from 'node:fs'

import { BaseCommand } from '../../cli/base-command.js'
import { masterKeyFromFlags, openStoreFromFlags } from '../../cli/context.js'
import { manifestFlags } from '../../cli/flags.js'
import { cryptoError, usageError } from '../../core/errors.js'
import { publicKeyB64, signingKeyFromMasterKey } from '../../core/manifest/audit.js'
import { verifyDetached } from '../../core/manifest/signing.js'
import { shown } from '../../core/validate/escape.js'

export default class ManifestVerifyExport extends BaseCommand {
  static override summary = 'Check a signed export (FILE.jws beside FILE, from `manifest export --sign`).'

  static override description = `The file must be unchanged since it was signed, and the signer must be one you trust: the manifest's signing key (--manifest; pinned by the master key when given), or the public key in --public-key (base64 SPKI or PEM, e.g. kept by CI). E_EXPORT_SIGNATURE (exit 6) otherwise.`

  static override examples = ['<%= config.bin %> <%= command.id %> devices.csv --manifest ./factory.db', '<%= config.bin %> <%= command.id %> devices.csv --public-key ./manifest-signer.pub']

  static override args = { file: Args.string({ description: 'The exported file.', required: true }) }

  static override flags = {
    ...manifestFlags,
    signature: Flags.string({ summary: 'The signature file (default FILE.jws).' }),
    'public-key': Flags.string({ summary: "File with the trusted signer's public key (base64 SPKI DER, or PEM)." }),
  }

  async run() {
    const { args, flags } = await this.parse(ManifestVerifyExport)
    const sigPath = flags.signature ?? `${args.file}.jws`
    const read = (p: string, what: string): Buffer => {
      try {
        return readFileSync(p)
      } catch (e) {
        throw usageError('E_EXPORT_SIGNATURE_MISSING', `Cannot read ${what} ${p}: ${(e as NodeJS.ErrnoException).code ?? 'error'}.`, 'Export with --sign, and keep FILE.jws beside FILE (or pass --signature).')
      }
    }
    const v = verifyDetached(read(args.file, 'the export'), read(sigPath, 'the signature').toString('utf8'))
    let trusted: string[]
    let source: string
    if (flags['public-key']) {
      const text = read(flags['public-key'], 'the public key').toString('utf8').trim()
      trusted = [text.includes('BEGIN') ? text.replace(/-----[^-]+-----|\s/g, '') : text]
      source = flags['public-key']
    } else {
      const store = await openStoreFromFlags(flags, (fn) => this.onCleanup(fn), { readonly: true })
      const mk = masterKeyFromFlags(flags, false)
      const recorded = await store.signingPublicKey()
      trusted = mk ? [publicKeyB64(signingKeyFromMasterKey(mk))] : recorded ? [recorded] : []
      source = mk ? 'the master key' : `the manifest ${store.location}`
    }
    if (!trusted.includes(v.publicKey)) {
      throw cryptoError('E_EXPORT_SIGNATURE', `${args.file} is signed, but not by the key of ${source}.`, 'Check that the export comes from this manifest; pass --public-key with the signer you trust.')
    }
    // header fields come from the signature file: shown escaped
    this.out(`${args.file}: signature valid (signed ${shown(String(v.header.lwprov.signedAt))} by ${source}; manifest ${shown(String(v.header.lwprov.manifest))}, SHA-256 ${v.header.lwprov.sha256}).`)
    return { file: args.file, signature: sigPath, signedAt: v.header.lwprov.signedAt, manifest: v.header.lwprov.manifest, sha256: v.header.lwprov.sha256, signer: v.publicKey }
  }
}
