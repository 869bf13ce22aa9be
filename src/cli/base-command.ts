/**
 * Base for every lwprov command: the `--json` envelope, error → exit-code mapping, warnings on stderr, and a
 * cleanup list so stores and ports close on success, failure and Ctrl-C alike.
 */
import { Command, Errors, Flags, Interfaces } from '@oclif/core'

import { ExitCode, LwprovError } from '../core/errors.js'
import { removeStaleTemps } from '../core/fs/temp-registry.js'
import { shown } from '../core/validate/escape.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>

export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true

  static override baseFlags = {
    'no-color': Flags.boolean({ summary: 'Disable colours in human output.', helpGroup: 'GLOBAL' }),
  }

  private readonly cleanups: Array<() => Promise<void> | void> = []
  protected readonly warnings: string[] = []

  override async init(): Promise<void> {
    // Plaintext secrets a killed run (SIGKILL, power loss) left in temporary files are removed by the next run.
    for (const t of removeStaleTemps()) {
      process.stderr.write(`lwprov: removed ${t.path}, a temporary file with secrets left by an interrupted run (pid ${t.pid}).\n`)
    }
    await super.init()
  }

  /** Registers something to close when the command ends, however it ends. */
  protected onCleanup(fn: () => Promise<void> | void): void {
    this.cleanups.unshift(fn)
  }

  /** A warning: stderr for humans, `warnings[]` in the JSON envelope. Never secrets. */
  override warn(input: string | Error): string | Error {
    const text = shown(typeof input === 'string' ? input : input.message)
    this.warnings.push(text)
    process.stderr.write(`${this.color('yellow', 'warning')}: ${text}\n`)
    return input
  }

  /** Human-readable stdout output, suppressed under `--json`. */
  protected out(text: string): void {
    if (!this.jsonEnabled()) process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
  }

  /** Progress / info lines: always stderr so stdout stays parseable. */
  protected info(text: string): void {
    process.stderr.write(`${text}\n`)
  }

  protected color(c: 'red' | 'green' | 'yellow' | 'dim' | 'bold', text: string): string {
    if (!process.stderr.isTTY || process.env.NO_COLOR !== undefined || process.argv.includes('--no-color')) return text
    const codes = { red: 31, green: 32, yellow: 33, dim: 2, bold: 1 } as const
    return `\u001B[${codes[c]}m${text}\u001B[0m`
  }

  protected override toSuccessJson(result: unknown): unknown {
    return { status: 0, result, ...(this.warnings.length > 0 ? { warnings: this.warnings } : {}) }
  }

  protected override toErrorJson(err: unknown): unknown {
    const e = toLwprovError(err)
    return { status: e.exitCode, error: e.toJSON(), ...(this.warnings.length > 0 ? { warnings: this.warnings } : {}) }
  }

  override async catch(err: Error & { exitCode?: number }): Promise<void> {
    const e = toLwprovError(err)
    process.exitCode = e.exitCode
    if (this.jsonEnabled()) {
      this.logJson(this.toErrorJson(e))
      return
    }
    // Messages can quote what a device or a file said: escaped, so no terminal sequence reaches the screen.
    process.stderr.write(`${this.color('red', 'Error')} [${e.code}]: ${shown(e.message)}\n`)
    if (e.hint) process.stderr.write(`${this.color('dim', 'Hint')}: ${shown(e.hint)}\n`)
    if (e.exitCode === ExitCode.bug) {
      process.stderr.write('This is a bug in lwprov; please report it with the output of DEBUG=lwprov.\n')
    }
    if (process.env.DEBUG && err.stack) process.stderr.write(`${err.stack}\n`)
  }

  override async finally(err: Error | undefined): Promise<void> {
    for (const fn of this.cleanups.splice(0)) {
      try {
        await fn()
      } catch {
        // A failing cleanup must not hide the command's own outcome.
      }
    }
    await super.finally(err)
  }
}

const FS_CODES = new Map([
  ['ENOENT', 'no such file or directory'],
  ['EACCES', 'permission denied'],
  ['EPERM', 'operation not permitted'],
  ['ENOTDIR', 'a path component is not a directory'],
  ['EISDIR', 'is a directory'],
  ['EEXIST', 'already exists'],
  ['ENOSPC', 'no space left on the device'],
  ['EROFS', 'read-only file system'],
])

/** Maps anything thrown to a `LwprovError`: ours pass through, oclif parse errors become usage errors, the rest are bugs. */
export function toLwprovError(err: unknown): LwprovError {
  if (err instanceof LwprovError) return err
  // Ctrl-C at an inquirer prompt (raw mode: no SIGINT reaches the process) is an interrupt, not a bug.
  if (err instanceof Error && err.name === 'ExitPromptError') {
    return new LwprovError('E_INTERRUPTED', 'Interrupted at a prompt; no device was touched.', { exit: 'interrupted', hint: 'Run the command again when ready.', cause: err })
  }
  if (err instanceof Errors.CLIError || (err instanceof Error && /^(Missing|Expected|Unexpected|Nonexistent flag|--)/.test(err.message))) {
    // oclif spreads one parse error over several lines ("Parsing --count", "Expected an integer…", "See more help…").
    const msg = (err as Error).message
      .replace(/\u001B\[[0-9;]*m/g, '')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.length > 0 && !/^See more help/.test(l) && !/^The following errors? occurred:?$/i.test(l))
      .join(': ')
      .replace(/^The following errors? occurred:\s*/i, '')
      .replace(/:\s*:/g, ':')
      .replace(/ {2,}/g, ' ')
    return new LwprovError('E_USAGE', msg || 'invalid arguments', {
      hint: 'Run the command with --help to see its flags and examples.',
      exit: 'usage',
      cause: err,
    })
  }
  // Backstop for file-system errors a specific handler missed: the user can fix a path or a permission, so this is
  // a usage error naming the file, not a bug report.
  const errno = err as NodeJS.ErrnoException
  if (errno && typeof errno.code === 'string' && FS_CODES.has(errno.code)) {
    const where = [errno.syscall, errno.path].filter(Boolean).join(' ')
    return new LwprovError('E_FS', `${where ? `${where}: ` : ''}${FS_CODES.get(errno.code)} (${errno.code}).`, {
      hint: 'Check the path and its permissions.',
      exit: 'usage',
      cause: err,
    })
  }
  const e = err instanceof Error ? err : new Error(String(err))
  return new LwprovError('E_INTERNAL', e.message || 'unexpected error', { exit: 'bug', cause: e })
}
