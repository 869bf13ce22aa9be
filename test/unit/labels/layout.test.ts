import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { describe, expect, it } from 'vitest'

import { LwprovError } from '../../../src/core/errors.js'
import { builtinLayouts, labelLines, loadLayout, parseLayout, placeLines } from '../../../src/core/labels/layout.js'
import { renderZplLabel, zplText } from '../../../src/core/labels/zpl.js'

function code(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(LwprovError)
    return (e as LwprovError).code
  }
  return 'no error'
}

describe('label layouts', () => {
  it('ships A4 and Letter sheets with 3x8 and 4x10 stocks and a roll size, all valid', () => {
    expect(builtinLayouts()).toEqual(['a4-3x8', 'a4-4x10', 'letter-3x8', 'letter-4x10', 'roll-50x25'])
    const a4 = loadLayout('a4-3x8')
    expect(a4.page).toEqual({ width: 210, height: 297 })
    expect(a4.columns * a4.rows).toBe(24)
    expect(loadLayout('a4-4x10').columns * loadLayout('a4-4x10').rows).toBe(40)
    expect(loadLayout('letter-4x10').page.width).toBeCloseTo(215.9)
    const roll = loadLayout('roll-50x25')
    expect(roll.page).toEqual({ width: 50, height: 25 })
    expect(roll.columns * roll.rows).toBe(1)
  })

  it('a factory layout file is loaded by path; bad ones fail with coded errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'layout-'))
    const f = join(dir, 'stock.json')
    writeFileSync(f, JSON.stringify({ name: 'stock', page: 'Letter', label: { width: 100, height: 50 }, columns: 2, rows: 5, fields: [{ text: '{endpoint}' }] }))
    expect(loadLayout(f)).toMatchObject({ name: 'stock', columns: 2, rows: 5, qrSize: 46 })
    expect(code(() => loadLayout('no-such-layout'))).toBe('E_LABEL_LAYOUT_UNKNOWN')
    expect(code(() => parseLayout({ label: { width: 100, height: 50 }, page: 'A4', columns: 3, rows: 2 }, 'x'))).toBe('E_LABEL_LAYOUT_INVALID')
    expect(code(() => parseLayout({ label: { width: 50, height: 25 }, fields: [{ text: '{pin}' }] }, 'x'))).toBe('E_LABEL_LAYOUT_INVALID')
    writeFileSync(f, '{')
    expect(code(() => loadLayout(f))).toBe('E_LABEL_LAYOUT_INVALID')
  })

  it('leaves out fields naming a missing value and wraps long names by character inside the text box', () => {
    const l = loadLayout('roll-50x25')
    const d = { endpoint: 'urn:dev:os:320973-0973WO000001', batch: 'WO-1', seq: 1 }
    expect(labelLines(l, d).map((x) => x.text)).toEqual(['urn:dev:os:320973-0973WO000001', 'WO-1 #1'])
    const placed = placeLines(l, d, (t, pt) => t.length * pt * 0.2)
    expect(placed.map((x) => x.text).join('')).toBe('urn:dev:os:320973-0973WO000001WO-1 #1')
    for (let i = 1; i < placed.length; i++) expect(placed[i]!.y).toBeGreaterThan(placed[i - 1]!.y)
  })
})

describe('ZPL', () => {
  it('one ^XA..^XZ with one ^BQ QR at level M holding the payload, sized to the label at 203 dpi', () => {
    const z = renderZplLabel({ endpoint: 'urn:dev:os:1', claim: '7K3M-Q9XD-2HTB', batch: 'WO', seq: 3 }, loadLayout('roll-50x25'))
    expect(z.startsWith('^XA\n')).toBe(true)
    expect(z.trimEnd().endsWith('^XZ')).toBe(true)
    expect(z.match(/\^BQ/g)).toHaveLength(1)
    expect(z).toContain('^PW400\n^LL200')
    expect(z).toMatch(/\^BQN,2,\d+\^FDMA,LW1;E:urn:dev:os:1;C:7K3M-Q9XD-2HTB\^FS/)
    expect(z).toContain('^FH^FD7K3M-Q9XD-2HTB^FS')
  })

  it('escapes ^, ~, _ and non-ASCII in text fields so a value cannot start a ZPL command', () => {
    expect(zplText('a^b~c_d')).toBe('a_5Eb_7Ec_5Fd')
    const z = renderZplLabel({ endpoint: 'x^XZ~JR', serial: '^FS' }, loadLayout('roll-50x25'))
    expect(z.match(/\^XZ/g)).toHaveLength(1)
    expect(z).not.toContain('~JR')
    expect(z).toContain('_5EFS')
  })
})
