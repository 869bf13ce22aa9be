/**
 * Identity fields — device serial / IMEI / MAC / model / firmware, `--station`, `--account-id`, operator names, batch
 * names — end up in certificate subjects, manifest rows, CSV exports and on the technician's screen. They are
 * checked on input against one documented character set (README "Identity fields"):
 *
 *   letters, digits, space and  . _ - : / + # @ ( ) ,   — 1 to 64 characters, no leading/trailing space.
 *
 * `=` (DN/CSV formulas), quotes, backslash, `<>`, `;`, control characters and anything non-ASCII are refused.
 * Flags get a usage error (exit 2). A device reporting an identity outside the set is refused before anything is
 * written (exit 4, `E_DEVICE_IDENTITY_INVALID`): its serial would become a manifest key and an endpoint name;
 * model and firmware strings are only ever shown escaped.
 */
import { deviceError, usageError } from '../errors.js'
import { hasUnsafeChars, shown } from './escape.js'

export const IDENTITY_MAX = 64
export const IDENTITY_CHARS = /^[A-Za-z0-9 ._\-:/+#@(),]+$/

/** Why `value` is not a valid identity field, or undefined when it is. */
export function identityProblem(value: string, max = IDENTITY_MAX): string | undefined {
  if (value.length === 0) return 'it is empty'
  if (value.length > max) return `it is longer than ${max} characters`
  if (!IDENTITY_CHARS.test(value)) return 'it holds characters outside letters, digits, space and . _ - : / + # @ ( ) ,'
  if (value.trim() !== value) return 'it starts or ends with a space'
  return undefined
}

/** Validates an identity flag value (usage error naming the flag). */
export function checkIdentityFlag(value: string, flag: string, max = IDENTITY_MAX): string {
  const problem = identityProblem(value, max)
  if (problem) {
    throw usageError(
      'E_IDENTITY_INVALID',
      `${flag} "${shown(value)}" is refused: ${problem}.`,
      `Use 1..${max} characters from letters, digits, space and . _ - : / + # @ ( ) , (README "Identity fields").`,
      { flag },
    )
  }
  return value
}

/** Validates an identity a device reported; a lying device is refused before any row is written. */
export function checkDeviceIdentity(value: string | undefined, field: string, link: string): string | undefined {
  if (value === undefined) return undefined
  const problem = identityProblem(value)
  if (problem) {
    throw deviceError(
      'E_DEVICE_IDENTITY_INVALID',
      `The device on ${link} reported ${field} "${shown(value)}", which is refused: ${problem}.`,
      'Check the device firmware (its identity must be plain printable text); nothing was recorded for it.',
      { field },
    )
  }
  return value
}

/** A free-text reason (`--reason`): printable, 1..200 characters, no control characters. */
export function checkReason(value: string | undefined, flag = '--reason'): string {
  const v = value?.trim() ?? ''
  if (v.length === 0 || v.length > 200 || hasUnsafeChars(v)) {
    throw usageError('E_REASON_REQUIRED', `${flag} must be 1..200 printable characters${v ? ` (got "${shown(v)}")` : ''}.`, `Say why, e.g. ${flag} "RMA 1234: main board replaced".`)
  }
  return v
}
