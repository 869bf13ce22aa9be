/**
 * The one escaping function for showing untrusted text (anything a device, an imported file or an older manifest
 * says) on a terminal or in a log: control characters (C0, DEL, C1 — ESC included, so no terminal sequence gets
 * through), line/paragraph separators and bidirectional overrides become visible `\xNN` / `\u{NNNN}` escapes.
 * Printable text is left as it is, so ordinary values read unchanged.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu

export function shown(value: string | null | undefined): string {
  if (value === null || value === undefined) return ''
  return String(value).replace(UNSAFE, (c) => {
    const n = c.codePointAt(0)!
    return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u{${n.toString(16)}}`
  })
}

/** True when `value` would be changed by {@link shown} (it holds something a terminal would interpret). */
export function hasUnsafeChars(value: string): boolean {
  UNSAFE.lastIndex = 0
  const r = UNSAFE.test(value)
  UNSAFE.lastIndex = 0
  return r
}

/**
 * A CSV cell that a spreadsheet will not evaluate: cells starting with `=`, `+`, `-`, `@`, a tab or a carriage return
 * get a leading apostrophe (OWASP "CSV injection"). Apply to the value before CSV quoting.
 */
export function csvSafe(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value
}
