/**
 * The error-code table is the single source of exit families: every code the source can throw is in it exactly once,
 * each throw site uses the table's family, the README documents each code once, and LwprovError follows the table.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

import { describe, expect, it } from 'vitest'

import { ERROR_CODES, familyOf } from '../../src/core/error-codes.js'
import { ExitCode, LwprovError, conflictError, usageError } from '../../src/core/errors.js'
import { FCC_STATUSES, fccError, ftcdError } from '../../src/core/inject/fcc/status.js'
import { ROOT } from '../helpers/cli.js'

const HELPER: Record<string, string> = { usageError: 'usage', conflictError: 'conflict', cryptoError: 'crypto', transportError: 'transport', deviceError: 'device' }

interface Site {
  file: string
  line: number
  codes: string[]
  family: string
}

/** Every `usageError(…)`/…/`new LwprovError(…)` call in src/, with the codes in its first argument and its family. */
function scan(dir: string): Site[] {
  const files: string[] = []
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f)
      if (statSync(p).isDirectory()) walk(p)
      else if (p.endsWith('.ts')) files.push(p)
    }
  }
  walk(dir)
  const sites: Site[] = []
  for (const file of files) {
    const s = readFileSync(file, 'utf8')
    const re = /\b(usageError|conflictError|cryptoError|transportError|deviceError|new LwprovError)\(/g
    let m: RegExpExecArray | null
    while ((m = re.exec(s))) {
      // Walk the call to find its first argument (to a depth-0 comma) and its end (the matching parenthesis).
      let i = re.lastIndex
      let depth = 0
      let quote: string | null = null
      let firstEnd = -1
      for (; i < s.length; i++) {
        const c = s[i]!
        if (quote) {
          if (c === '\\') i++
          else if (c === quote) quote = null
          continue
        }
        if (c === "'" || c === '"' || c === '`') quote = c
        else if ('([{'.includes(c)) depth++
        else if (')]}'.includes(c)) {
          if (depth === 0) break
          depth--
        } else if (c === ',' && depth === 0 && firstEnd < 0) firstEnd = i
      }
      const first = s.slice(re.lastIndex, firstEnd < 0 ? i : firstEnd)
      const rest = s.slice(firstEnd < 0 ? i : firstEnd, i)
      const codes = [...first.matchAll(/'(E_[A-Z0-9_]+)'/g)].map((x) => x[1]!)
      const family = HELPER[m[1]!] ?? /\bexit:\s*'(\w+)'/.exec(rest)?.[1] ?? (/\bexit:/.test(rest) ? 'computed' : 'usage')
      sites.push({ file: file.slice(ROOT.length + 1), line: s.slice(0, m.index).split('\n').length, codes, family })
    }
  }
  return sites
}

const sites = scan(join(ROOT, 'src'))
const thrown = new Set(sites.flatMap((s) => s.codes))

describe('error-code table', () => {
  it('finds the throw sites (the scanner works)', () => {
    expect(sites.length).toBeGreaterThan(150)
    expect(thrown.has('E_MANIFEST_NOT_FOUND')).toBe(true)
    expect(thrown.has('E_TCP_PORT_BUSY')).toBe(true) // a code in a ternary
  })

  it('lists every code the source throws', () => {
    const missing = [...thrown].filter((c) => familyOf(c) === undefined)
    expect(missing).toEqual([])
  })

  it('every throw site uses the family of its code in the table', () => {
    const wrong = sites.flatMap((s) =>
      s.codes.filter((c) => s.family !== 'computed' && familyOf(c) !== s.family).map((c) => `${s.file}:${s.line} ${c} thrown as ${s.family}, table says ${familyOf(c)}`),
    )
    expect(wrong).toEqual([])
  })

  it('holds no code that nothing throws', () => {
    // Codes built at run time (FCC statuses) are not literal in the source; everything else must be thrown somewhere.
    const stale = Object.keys(ERROR_CODES).filter((c) => !thrown.has(c))
    expect(stale).toEqual([])
  })

  it('documents every code in README exactly once, with its family', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    const problems: string[] = []
    for (const [code, family] of Object.entries(ERROR_CODES)) {
      const hits = readme.match(new RegExp(`\`${code}\``, 'g'))?.length ?? 0
      if (hits !== 1) problems.push(`${code} appears ${hits} times`)
      const row = readme.split('\n').find((l) => l.includes(`\`${code}\``))
      if (row && !row.includes(`${ExitCode[family]} ${family}`)) problems.push(`${code} is not documented under ${ExitCode[family]} ${family}`)
    }
    expect(problems).toEqual([])
  })

  it('LwprovError takes its exit code from the table', () => {
    expect(new LwprovError('E_BATCH_NOT_FOUND', 'x', { exit: 'conflict' }).exitCode).toBe(2)
    expect(conflictError('E_TEMPLATE_INVALID', 'x').exitCode).toBe(2)
    expect(usageError('E_DUPLICATE_ENDPOINT', 'x').exitCode).toBe(3)
    // A code the table does not know keeps the family it was given.
    expect(new LwprovError('E_TEST_ONLY', 'x', { exit: 'device' }).exitCode).toBe(4)
  })

  it('generated FCC and FTCD codes get the family their builders give them', () => {
    for (const info of FCC_STATUSES.values()) expect(fccError(info.code).exitCode).toBe(ExitCode[familyOf(info.errorCode)!])
    for (let s = 0; s <= 16; s++) {
      const e = ftcdError(s)
      expect(e.exitCode, e.code).toBe(ExitCode[familyOf(e.code)!])
    }
  })
})
