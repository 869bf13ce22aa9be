import { describe, expect, it } from 'vitest'

import { LwprovError } from '../../../src/core/errors.js'
import { cByteLines, compileTemplate, cStringLiteral, renderTemplate } from '../../../src/core/devcert/render.js'

function err(fn: () => unknown): LwprovError {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(LwprovError)
    return e as LwprovError
  }
  throw new Error('expected an error')
}

describe('devcert template language', () => {
  it('substitutes values and dotted paths', () => {
    expect(renderTemplate('ep={{endpoint}} m={{ device.manufacturer }} n={{lifetime}}', { endpoint: 'a', device: { manufacturer: 'ACME' }, lifetime: 86400 })).toBe(
      'ep=a m=ACME n=86400',
    )
  })

  it('renders literals and keeps text outside tags byte for byte', () => {
    expect(renderTemplate('x {{ "}}" }} {{42}} {{true}} y\n', {})).toBe('x }} 42 true y\n')
  })

  it('c_bytes: 12 per line by default, indent, no trailing comma', () => {
    const der = Buffer.from(Array.from({ length: 14 }, (_, i) => i))
    expect(renderTemplate('{{d | c_bytes}}', { d: der })).toBe(
      '    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,\n    0x0c, 0x0d',
    )
    expect(renderTemplate('{ {{d | c_bytes 8 " " | trim}} };', { d: der })).toBe(
      '{ 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,\n 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d };',
    )
    expect(cByteLines(Buffer.alloc(0))).toBe('')
  })

  it('c_string escapes quotes, backslashes, control and non-ASCII bytes (octal, never greedy hex)', () => {
    expect(cStringLiteral(Buffer.from('a"b\\c\n\u00e9??=1'))).toBe('"a\\"b\\\\c\\n\\303\\251?\\?=1"')
    // a lone '?' stays plain: tools that parse mbed_cloud_dev_credentials.c must see the URI unchanged
    expect(renderTemplate('{{s | c_string}}', { s: 'coaps://h:5684?aid=1' })).toBe('"coaps://h:5684?aid=1"')
  })

  it('hex, base64, pem, len, upper, lower, c_ident, kconfig, default, json', () => {
    const b = Buffer.from([0xde, 0xad, 0xbe, 0xef])
    const data = { b, s: 'héllo', ep: '0973-dev.1', none: null, list: [1, 2] }
    expect(renderTemplate('{{b|hex}} {{b|hex|upper}} {{b|base64}} {{b|len}} {{s|len}} {{list|len}}', data)).toBe('deadbeef DEADBEEF 3q2+7w== 4 6 2')
    expect(renderTemplate('{{ep|c_ident}} {{ep|upper}} {{"A"|lower}}', data)).toBe('_0973_dev_1 0973-DEV.1 a')
    expect(renderTemplate('{{none | default "x"}} {{s | default "x"}}', data)).toBe('x héllo')
    expect(renderTemplate('{{b|json}}', data)).toBe('"deadbeef"')
    expect(renderTemplate('{{b|pem "CERTIFICATE"}}', data)).toBe('-----BEGIN CERTIFICATE-----\n3q2+7w==\n-----END CERTIFICATE-----\n')
  })

  it('kconfig escapes backslash and quote', () => {
    expect(renderTemplate('{{v|kconfig}}', { v: 'a\\b"c' })).toBe('"a\\\\b\\"c"')
    expect(err(() => renderTemplate('{{v|kconfig}}', { v: 'a\nb' })).code).toBe('E_DEVCERT_TEMPLATE')
  })

  it('if / else / unless, equality against literals', () => {
    const t = compileTemplate('{{#if security == "psk"}}P{{else}}C{{/if}}{{#unless key}}-nokey{{/unless}}{{#if n != 3}}!{{/if}}')
    expect(t.render({ security: 'psk', key: null, n: 3 })).toBe('P-nokey')
    expect(t.render({ security: 'cert', key: Buffer.from([1]), n: 4 })).toBe('C!')
    expect(renderTemplate('{{#if !a}}none{{else}}some{{/if}}', { a: null })).toBe('none')
    expect(renderTemplate('{{#if !a}}none{{else}}some{{/if}}', { a: 'x' })).toBe('some')
  })

  it('empty bytes, empty lists, 0 and empty text are false', () => {
    const t = compileTemplate('{{#if v}}y{{else}}n{{/if}}')
    for (const v of [Buffer.alloc(0), [], 0, '', null, false]) expect(t.render({ v })).toBe('n')
    for (const v of [Buffer.alloc(1), [0], 1, 'x', true]) expect(t.render({ v })).toBe('y')
  })

  it('each exposes this, @index, @first, @last and item fields', () => {
    const out = renderTemplate('{{#each xs}}{{@index}}:{{name}}/{{endpoint}}{{#unless @last}},{{/unless}}{{/each}}', {
      endpoint: 'ep',
      xs: [{ name: 'a' }, { name: 'b' }],
    })
    expect(out).toBe('0:a/ep,1:b/ep')
    expect(renderTemplate('{{#each xs}}[{{this}}]{{/each}}', { xs: ['p', 'q'] })).toBe('[p][q]')
  })

  it('a block tag alone on its line removes the line', () => {
    const src = 'a\n{{#if x}}\n  in\n{{else}}\n  out\n{{/if}}\n{{! a comment }}\nb\n'
    expect(renderTemplate(src, { x: true })).toBe('a\n  in\nb\n')
    expect(renderTemplate(src, { x: false })).toBe('a\n  out\nb\n')
    // an inline block keeps its surroundings
    expect(renderTemplate('a {{#if x}}y{{/if}} b\n', { x: true })).toBe('a y b\n')
  })

  it('unknown variables and filters are errors with a position, not empty output', () => {
    const e1 = err(() => renderTemplate('line1\n  {{endpiont}}', { endpoint: 'x' }, 'my.tmpl'))
    expect(e1.code).toBe('E_DEVCERT_TEMPLATE')
    expect(e1.exitCode).toBe(2)
    expect(e1.message).toContain('my.tmpl:2:3')
    expect(e1.message).toContain("unknown variable 'endpiont'")
    expect(err(() => compileTemplate('{{x | shout}}')).message).toContain("unknown filter 'shout'")
    expect(err(() => renderTemplate('{{cert}}', { cert: null })).message).toContain('not set')
    expect(err(() => renderTemplate('{{cert}}', { cert: Buffer.from([1]) })).message).toContain('binary')
    expect(err(() => renderTemplate('{{o}}', { o: { a: 1 } })).message).toContain('an object')
    expect(err(() => renderTemplate('{{n | c_bytes}}', { n: 3 })).message).toContain("'c_bytes' needs bytes")
  })

  it('syntax errors: unclosed tags and blocks, mismatched ends, stray else', () => {
    expect(err(() => compileTemplate('a {{ b')).message).toContain('never closed')
    expect(err(() => compileTemplate('{{#if a}}x')).message).toContain('{{#if}} is never closed')
    expect(err(() => compileTemplate('{{#if a}}x{{/each}}')).message).toContain('closes {{#if}}')
    expect(err(() => compileTemplate('{{else}}')).message).toContain('outside')
    expect(err(() => compileTemplate('{{/if}}')).message).toContain('closes nothing')
    expect(err(() => compileTemplate('{{#with a}}{{/with}}')).message).toContain('unknown block')
    expect(err(() => compileTemplate('{{a b}}')).message).toContain("expected '|'")
    expect(err(() => compileTemplate('{{a | default b}}')).message).toContain('literals')
  })

  it('is not a code-evaluation hole: prototype and inherited members are unreachable', () => {
    expect(err(() => compileTemplate('{{constructor.name}}')).message).toContain('not a valid variable')
    expect(err(() => compileTemplate('{{a.__proto__}}')).message).toContain('not a valid variable')
    expect(err(() => renderTemplate('{{toString}}', {})).message).toContain('unknown variable')
    expect(err(() => renderTemplate('{{s.length}}', { s: 'abc' })).message).toContain('unknown variable')
    expect(err(() => compileTemplate('{{process.exit()}}')).message).toContain('not a valid variable')
  })
})
