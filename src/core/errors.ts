/**
 * The one error type of lwprov. Every failure a user can cause or fix is a `LwprovError` with a stable `code`
 * (asserted by tests and scripts, never reworded), a human `message`, a `hint` saying what to do next and an
 * exit code family. Anything else reaching the command layer is a bug (exit 1).
 */

import { familyOf } from './error-codes.js'

/** Exit code families (docs/cli.md, style.md §3). */
export const ExitCode = {
  ok: 0,
  bug: 1,
  usage: 2,
  conflict: 3,
  device: 4,
  transport: 5,
  crypto: 6,
  interrupted: 130,
} as const
export type ExitCodeName = keyof typeof ExitCode

export interface LwprovErrorOptions {
  /** What the user should do next. */
  hint?: string
  /**
   * Exit code family for a code that is not in the table (`error-codes.ts`); for a code in the table the table's
   * family wins, so one code always exits the same way.
   */
  exit?: ExitCodeName
  /** The underlying error (kept for DEBUG output, never shown to users by default). */
  cause?: unknown
  /** Structured details for `--json` consumers (e.g. the duplicate endpoint names). */
  details?: Record<string, unknown>
}

export class LwprovError extends Error {
  readonly code: string
  readonly hint: string | undefined
  readonly exitCode: number
  readonly details: Record<string, unknown> | undefined

  constructor(code: string, message: string, opts: LwprovErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = 'LwprovError'
    this.code = code
    this.hint = opts.hint
    this.exitCode = ExitCode[familyOf(code) ?? opts.exit ?? 'usage']
    this.details = opts.details
  }

  toJSON(): { code: string; message: string; hint?: string; details?: Record<string, unknown> } {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      ...(this.details === undefined ? {} : { details: this.details }),
    }
  }
}

export function isLwprovError(e: unknown): e is LwprovError {
  return e instanceof LwprovError
}

/** Shorthands for the common families, so call sites read as intent. */
export const usageError = (code: string, message: string, hint?: string, details?: Record<string, unknown>) =>
  new LwprovError(code, message, { hint, exit: 'usage', details })
export const conflictError = (code: string, message: string, hint?: string, details?: Record<string, unknown>) =>
  new LwprovError(code, message, { hint, exit: 'conflict', details })
export const cryptoError = (code: string, message: string, hint?: string, cause?: unknown) =>
  new LwprovError(code, message, { hint, exit: 'crypto', cause })
export const transportError = (code: string, message: string, hint?: string, cause?: unknown) =>
  new LwprovError(code, message, { hint, exit: 'transport', cause })
export const deviceError = (code: string, message: string, hint?: string, details?: Record<string, unknown>) =>
  new LwprovError(code, message, { hint, exit: 'device', details })
