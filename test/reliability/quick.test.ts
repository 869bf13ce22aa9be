/**
 * `npm run reliability` in its short form (RELIABILITY_QUICK=1): every category of figures runs with small counts and
 * the run exits 0 with one table row per figure, none with a failure. The full form is `npm run reliability`.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'

import { describe, expect, it } from 'vitest'

import { ROOT } from '../helpers/cli.js'

function reliability(): Promise<{ code: number | null; out: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [join(ROOT, 'scripts', 'reliability', 'run.js')], {
      cwd: ROOT,
      env: { ...process.env, RELIABILITY_QUICK: '1', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    child.on('close', (code) => res({ code, out }))
  })
}

describe('npm run reliability (quick form)', () => {
  it('prints one row per figure for every category, and nothing went wrong', async () => {
    const { code, out } = await reliability()
    expect(code, out).toBe(0)
    const rows = out.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| figure') && !l.startsWith('| ---'))
    const cells = rows.map((l) => l.split('|').map((c) => c.trim()))
    for (const category of ['bad input', 'faults', 'kill -9', 'concurrency', 'fuzz', 'secrets']) {
      expect(cells.some((c) => c[1] === category), `${category} row in:\n${out}`).toBe(true)
    }
    // every row ran something and found nothing wrong
    for (const c of cells) {
      expect(Number(c[3]), c.join(' | ')).toBeGreaterThan(0)
      expect(c[4], c.join(' | ')).toBe('0')
    }
    expect(out).toMatch(/reliability: \d+ runs in \d+ figures, nothing went wrong/)
  }, 1_200_000)
})
