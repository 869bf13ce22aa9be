/**
 * Where CA passphrases come from: never a flag value (argv is visible to every user of the machine), only the
 * environment, a file, or a hidden prompt when a person is at a terminal.
 */
import { readFileSync, statSync } from 'node:fs'

import { password } from '@inquirer/prompts'

import { LwprovError, usageError } from '../core/errors.js'
import { MIN_NEW_PASSPHRASE } from '../core/pki/ca.js'
import { canPrompt } from './tty.js'

export { canPrompt, inCi } from './tty.js'

export interface PassphraseOptions {
  /** File whose first line is the passphrase (`--passphrase-file`). */
  passphraseFile?: string
  /** Ask twice when prompting (creating a new key). */
  confirm?: boolean
  /** Whether the command may prompt at all; prompting also needs stdin and stderr to be TTYs. */
  interactive: boolean
  /** Environment variable to read first; default `LWPROV_CA_PASSPHRASE`. */
  envVar?: string
  /** Flag named in errors for the file; default `--passphrase-file`. */
  fileFlag?: string
  /** Prompt text; default "CA key passphrase". */
  message?: string
}

/** Reads a passphrase file: its contents without the trailing line break. */
export function readPassphraseFile(path: string, flag = '--passphrase-file'): string {
  let text: string
  try {
    // like the key file: a passphrase others can read protects nothing
    if ((statSync(path).mode & 0o077) !== 0) process.stderr.write(`warning: passphrase file ${path} is readable by others; chmod 600 it.\n`)
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new LwprovError('E_PASSPHRASE_FILE_UNREADABLE', `Cannot read the passphrase file given with ${flag}: ${(error as NodeJS.ErrnoException).code ?? 'error'}.`, {
      hint: `Check the ${flag} path and its permissions.`,
      cause: error,
    })
  }
  const pass = text.replace(/\r?\n$/, '')
  if (pass.length === 0) throw usageError('E_CA_PASSPHRASE_MISSING', `The passphrase file given with ${flag} is empty.`, 'Write the passphrase on the first line of the file.')
  return pass
}


async function ask(message: string): Promise<string> {
  try {
    return await password({ message, mask: '*' }, { output: process.stderr })
  } catch (error) {
    if (error instanceof Error && error.name === 'ExitPromptError') {
      throw new LwprovError('E_INTERRUPTED', 'Interrupted at the passphrase prompt.', { exit: 'interrupted', cause: error })
    }
    throw error
  }
}

/**
 * The CA key passphrase: `LWPROV_CA_PASSPHRASE` → `--passphrase-file` → a hidden prompt (with confirmation when
 * `confirm`) if interactive and on a TTY → else `E_CA_PASSPHRASE_MISSING` (usage) naming both sources.
 */
const PROMPT_ATTEMPTS = 3

export async function resolveCaPassphrase(opts: PassphraseOptions): Promise<string> {
  const envVar = opts.envVar ?? 'LWPROV_CA_PASSPHRASE'
  const fileFlag = opts.fileFlag ?? '--passphrase-file'
  const fromEnv = process.env[envVar]
  // A --passphrase-file that was given is read even when the environment wins (the documented order): a typo in its
  // path is refused up front instead of being silently ignored.
  const fromFile = opts.passphraseFile === undefined ? undefined : readPassphraseFile(opts.passphraseFile, fileFlag)
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv
  if (fromFile !== undefined) return fromFile
  if (opts.interactive && canPrompt()) {
    const message = opts.message ?? 'CA key passphrase'
    // a few tries, as sudo allows: a terminal that answers nothing (or a script) must not loop for ever
    for (let attempt = 0; attempt < PROMPT_ATTEMPTS; attempt++) {
      const first = await ask(message)
      if (first.length === 0) {
        process.stderr.write('The passphrase must not be empty.\n')
        continue
      }
      if (!opts.confirm) return first
      if ([...first].length < MIN_NEW_PASSPHRASE) {
        process.stderr.write(`A new CA key needs a passphrase of at least ${MIN_NEW_PASSPHRASE} characters.\n`)
        continue
      }
      const second = await ask(`${message} (again)`)
      if (first === second) return first
      process.stderr.write('The passphrases did not match; try again.\n')
    }
    throw usageError('E_CA_PASSPHRASE_MISSING', `No usable passphrase after ${PROMPT_ATTEMPTS} tries.`, `Run the command again, or set ${envVar} / pass ${fileFlag}.`)
  }
  throw usageError(
    'E_CA_PASSPHRASE_MISSING',
    'No CA key passphrase: it is never taken from a flag value, and there is no terminal to prompt on.',
    `Set ${envVar}, or pass ${fileFlag} with a file holding the passphrase.`,
  )
}

/**
 * A second passphrase that defaults to the first, e.g. the parent CA's when creating an intermediate:
 * `envVar` → `file` → `fallback`.
 */
export function resolveOptionalPassphrase(opts: { envVar: string; file?: string; fileFlag: string; fallback: string }): string {
  const fromEnv = process.env[opts.envVar]
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv
  if (opts.file !== undefined) return readPassphraseFile(opts.file, opts.fileFlag)
  return opts.fallback
}

/** A one-off hidden prompt, or undefined when nobody can answer it. */
export async function promptPassphrase(message: string): Promise<string | undefined> {
  return canPrompt() ? ask(message) : undefined
}

/**
 * The PKCS#11 user PIN: `--pin-file` → `LWPROV_PKCS11_PIN` → a hidden prompt on a terminal → else
 * `E_PKCS11_PIN_MISSING` (usage). Never a flag value.
 */
export async function resolvePin(pinFile: string | undefined, interactive = true): Promise<string> {
  if (pinFile !== undefined) return readPassphraseFile(pinFile, '--pin-file')
  const fromEnv = process.env.LWPROV_PKCS11_PIN
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv
  if (interactive && canPrompt()) return ask('Token user PIN')
  throw usageError('E_PKCS11_PIN_MISSING', 'No PIN for the PKCS#11 token: it is never taken from a flag value, and there is no terminal to prompt on.', 'Pass --pin-file FILE or set LWPROV_PKCS11_PIN.')
}
