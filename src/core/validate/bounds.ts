/**
 * Bounds for every count, duration and date a user can pass. Everything absurd is a usage error (exit 2) found before
 * anything is allocated, opened or written — never an "Invalid time value" bug or a process that grows until killed.
 * The limits are documented in README ("Input limits").
 */
import { usageError } from '../errors.js'
import { shown } from './escape.js'

/** Most endpoints one command issues or reserves (`--count`, lines of `--endpoints`). */
export const MAX_COUNT = 100_000
/** Above this many, an interactive run asks for confirmation first. */
export const CONFIRM_COUNT = 10_000
/** Longest certificate validity, days (100 years; X.509 dates end in 9999 and devices misread far dates anyway). */
export const MAX_DAYS = 36_525
/** Longest duration flag (`--within`, `--since 7d`): 100 years. */
export const MAX_DURATION_MS = 100 * 365 * 86_400_000
/** Dates accepted by date flags. */
export const MIN_DATE = Date.UTC(2000, 0, 1)
export const MAX_DATE = Date.UTC(9999, 11, 31, 23, 59, 59)

/** A whole number of endpoints in 1..MAX_COUNT. */
export function checkCount(n: number, flag = '--count'): number {
  if (!Number.isSafeInteger(n) || n < 1) {
    throw usageError('E_COUNT_INVALID', `${flag} ${n} is not a positive whole number.`, `Pass ${flag} N with 1 ≤ N ≤ ${MAX_COUNT}.`)
  }
  if (n > MAX_COUNT) {
    throw usageError(
      'E_COUNT_TOO_LARGE',
      `${flag} ${n} is more than the ${MAX_COUNT} endpoints one run may issue.`,
      `Split the work into runs of at most ${MAX_COUNT} (each run is one manifest transaction).`,
      { max: MAX_COUNT },
    )
  }
  return n
}

/** Certificate validity in whole days, 1..MAX_DAYS. */
export function checkDays(n: number, flag = '--days'): number {
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_DAYS) {
    throw usageError('E_DAYS_INVALID', `${flag} ${n} is outside 1..${MAX_DAYS} days.`, `Pass ${flag} N with 1 ≤ N ≤ ${MAX_DAYS} (100 years).`, { max: MAX_DAYS })
  }
  return n
}

const UNIT_MS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3, y: 365 * 86400e3 }

/** `90d`, `12h`, `2w`, `1y` (or a bare number of days) → milliseconds, at most MAX_DURATION_MS. */
export function parseDuration(text: string, flag: string): number {
  const m = /^\s*(\d{1,12}(?:\.\d{1,6})?)\s*([smhdwy]?)\s*$/i.exec(text)
  if (!m) throw usageError('E_DURATION_INVALID', `${flag} ${text} is not a duration.`, 'Use a number and a unit: 90d, 12h, 2w, 1y.')
  const ms = Number(m[1]) * UNIT_MS[(m[2] || 'd').toLowerCase()]!
  if (!Number.isFinite(ms) || ms > MAX_DURATION_MS) {
    throw usageError('E_DURATION_INVALID', `${flag} ${text} is longer than 100 years.`, `Use a period of at most 100y (e.g. ${flag} 1y).`)
  }
  return ms
}

/**
 * Whether the YYYY-MM-DD the text starts with is a day of the calendar: `Date` rolls 2026-02-30 over to March 2 (and
 * accepts day 31 of any month in date-times), so the day is checked against the month's length.
 */
function calendarDay(t: string): boolean {
  const y = Number(t.slice(0, 4))
  const mo = Number(t.slice(5, 7))
  const d = Number(t.slice(8, 10))
  if (mo < 1 || mo > 12 || d < 1) return false
  return d <= new Date(Date.UTC(y, mo, 0)).getUTCDate()
}

/** An ISO date or date-time between 2000-01-01 and 9999-12-31, on a real calendar day. */
export function parseDate(text: string, flag: string): Date {
  const t = text.trim()
  const d = /^\d{4}-\d{2}-\d{2}$/.test(t) ? new Date(`${t}T00:00:00Z`) : /^\d{4}-\d{2}-\d{2}[T ]/.test(t) ? new Date(t) : new Date(Number.NaN)
  if (Number.isNaN(d.getTime()) || !calendarDay(t)) {
    throw usageError('E_DATE_INVALID', `${flag} '${shown(text)}' is not a date.`, `Write ${flag} 2026-12-01 or ${flag} 2026-12-01T08:00:00Z.`)
  }
  if (d.getTime() < MIN_DATE || d.getTime() > MAX_DATE) {
    throw usageError('E_DATE_INVALID', `${flag} '${shown(text)}' is outside 2000-01-01..9999-12-31.`, `Write a date such as ${flag} 2026-12-01.`)
  }
  return d
}

/** Serial baud rates a UART can run at. */
export function checkBaud(n: number, flag = '--baud'): number {
  if (!Number.isSafeInteger(n) || n < 300 || n > 4_000_000) {
    throw usageError('E_BAUD_INVALID', `${flag} ${n} is not a usable baud rate.`, `Pass ${flag} between 300 and 4000000, e.g. 115200.`)
  }
  return n
}
