/** Wiring of `lwprov devcert`: the developer CA (opened or created, passphrase asked on a terminal), keys, output. */
import { relative } from 'node:path'

import { openDeveloperCa, prepareOutputDir, type runDevcert } from '../core/devcert/index.js'
import type { ManifestStore } from '../core/manifest/types.js'
import { isInteractive } from './context.js'
import { resolveCaPassphrase } from './passphrase.js'

type DevcertDeps = Parameters<typeof runDevcert>[1]

export function developerDeps(o: {
  store: ManifestStore
  caDir: string
  keys: Array<Buffer | undefined>
  out: string
  force: boolean
  passphraseFile: string | undefined
  isDefault: boolean
  now: Date
}): DevcertDeps {
  return {
    store: o.store,
    masterKeys: o.keys.filter((k): k is Buffer => k !== undefined),
    prepareOutput: (names) => prepareOutputDir(o.out, names, o.force),
    developerCa: () =>
      openDeveloperCa({
        dir: o.caDir,
        isDefault: o.isDefault,
        now: o.now,
        passphrase: (creating) =>
          resolveCaPassphrase({
            ...(o.passphraseFile ? { passphraseFile: o.passphraseFile } : {}),
            confirm: creating,
            interactive: isInteractive(),
            message: creating ? 'New developer CA passphrase' : 'Developer CA passphrase',
          }),
      }),
  }
}

/** A path relative to the working directory when it lies below it, else absolute. */
export function shortPath(p: string): string {
  const r = relative(process.cwd(), p)
  return r === '' || r.startsWith('..') ? p : r
}

/** The warning for output files holding a secret that git would not ignore; undefined when there are none. */
export function exposedSecretsWarning(exposed: string[]): string | undefined {
  if (exposed.length === 0) return undefined
  const one = exposed.length === 1
  return `${exposed.map(shortPath).join(', ')} ${one ? 'is' : 'are'} inside a git work tree and not ignored, and hold${one ? 's' : ''} a secret key: add ${one ? 'it' : 'them'} to .gitignore.`
}
