/**
 * The devcert template language: a small, logic-less, Mustache-like language with C-friendly filters. It is
 * parsed into a tree and interpreted over plain data; nothing is ever evaluated as JavaScript, property lookups
 * only see a value's own data fields, and an unknown variable or filter is an error (a typo must not silently
 * render an empty certificate into firmware).
 *
 * Syntax (full reference with examples: templates/devcert/README.md):
 *
 *   {{ expr | filter arg … | filter }}      output a value (strings raw, numbers in decimal)
 *   {{#if cond}} … {{else}} … {{/if}}        conditional; `cond` is `expr`, `!expr`, `expr == literal`, `expr != literal`
 *   {{#unless cond}} … {{/unless}}           negated conditional
 *   {{#each expr}} … {{/each}}               loop over an array: `this`, `@index`, `@first`, `@last`, item fields
 *   {{! comment }}                           dropped
 *
 * `expr` is a dotted path (`device.manufacturer`, `this`, `@index`) or a literal (`"text"`, `'text'`, `42`, `true`,
 * `false`, `null`). A tag alone on its line (blocks and comments) removes that whole line, so templates can be laid
 * out like the code they produce.
 */
import { LwprovError, usageError } from '../errors.js'

/** A value the renderer understands: what a devcert data model is made of. */
export type TemplateValue =
  | string
  | number
  | boolean
  | null
  | undefined
  | Uint8Array
  | readonly TemplateValue[]
  | { readonly [key: string]: TemplateValue }

export type TemplateData = { readonly [key: string]: TemplateValue }

type Literal = string | number | boolean | null
type Expr = { kind: 'path'; path: string[]; text: string } | { kind: 'literal'; value: Literal }
interface FilterCall {
  name: string
  args: Literal[]
}
interface Cond {
  left: Expr
  /** `!value` */
  not?: boolean
  op?: '==' | '!='
  right?: Literal
}
type Node =
  | { type: 'text'; text: string }
  | { type: 'out'; expr: Expr; filters: FilterCall[]; line: number; col: number }
  | { type: 'if'; cond: Cond; negate: boolean; then: Node[]; else: Node[]; line: number; col: number }
  | { type: 'each'; expr: Expr; body: Node[]; line: number; col: number }

/** A parsed template, reusable across renders. */
export interface CompiledTemplate {
  /** Name used in error messages (file name or built-in id). */
  readonly name: string
  render(data: TemplateData): string
}

/** Thrown for syntax and render errors: exit 3 (configuration), with the template position. */
function templateError(name: string, line: number, col: number, message: string, hint?: string): LwprovError {
  return usageError(
    'E_DEVCERT_TEMPLATE',
    `${name}:${line}:${col}: ${message}`,
    hint ?? 'See templates/devcert/README.md for the template language and the data model.',
  )
}

// ---------------------------------------------------------------------------------------------------------------
// Filters

type FilterFn = (value: TemplateValue, args: Literal[], fail: (msg: string) => never) => TemplateValue

function isBytes(v: TemplateValue): v is Uint8Array {
  return v instanceof Uint8Array
}

function asBytes(v: TemplateValue, fail: (m: string) => never, filter: string): Uint8Array {
  if (isBytes(v)) return v
  if (typeof v === 'string') return Buffer.from(v, 'utf8')
  return fail(`filter '${filter}' needs bytes or text, got ${describe(v)}`)
}

function asString(v: TemplateValue, fail: (m: string) => never, filter: string): string {
  if (typeof v === 'string') return v
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  return fail(`filter '${filter}' needs text, got ${describe(v)}`)
}

function intArg(args: Literal[], i: number, dflt: number, fail: (m: string) => never, filter: string): number {
  const a = args[i]
  if (a === undefined) return dflt
  if (typeof a !== 'number' || !Number.isInteger(a) || a < 1) fail(`filter '${filter}' argument ${i + 1} must be a positive integer`)
  return a as number
}

function strArg(args: Literal[], i: number, dflt: string, fail: (m: string) => never, filter: string): string {
  const a = args[i]
  if (a === undefined) return dflt
  if (typeof a !== 'string') fail(`filter '${filter}' argument ${i + 1} must be a string`)
  return a as string
}

/** C string literal: printable ASCII kept, the rest as 3-digit octal escapes (hex escapes would swallow digits). */
export function cStringLiteral(bytes: Uint8Array): string {
  let s = '"'
  let prev = -1
  for (const b of bytes) {
    if (b === 0x22) s += '\\"'
    else if (b === 0x5c) s += '\\\\'
    else if (b === 0x0a) s += '\\n'
    else if (b === 0x0d) s += '\\r'
    else if (b === 0x09) s += '\\t'
    // only the second of two '?' is escaped (no trigraph ??x); a lone '?' stays plain for tools that parse the file
    else if (b === 0x3f && prev === 0x3f) s += '\\?'
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b)
    else s += `\\${b.toString(8).padStart(3, '0')}`
    prev = b
  }
  return `${s}"`
}

/** `0x30, 0x82, …` in lines of `perLine`, each line prefixed by `indent`, no trailing comma after the last byte. */
export function cByteLines(bytes: Uint8Array, perLine = 12, indent = '    '): string {
  const lines: string[] = []
  for (let i = 0; i < bytes.length; i += perLine) {
    const chunk = Array.from(bytes.subarray(i, i + perLine), (b) => `0x${b.toString(16).padStart(2, '0')}`)
    lines.push(indent + chunk.join(', ') + (i + perLine < bytes.length ? ',' : ''))
  }
  return lines.join('\n')
}

const FILTERS: Record<string, FilterFn> = {
  /** Bytes (or UTF-8 text) → C initializer lines: `c_bytes [perLine=12] [indent="    "]`. */
  c_bytes: (v, args, fail) =>
    cByteLines(asBytes(v, fail, 'c_bytes'), intArg(args, 0, 12, fail, 'c_bytes'), strArg(args, 1, '    ', fail, 'c_bytes')),
  /** Multi-line text → adjacent C string literals, one per line, each keeping its `\n`: `c_lines [indent]`. */
  c_lines: (v, args, fail) => {
    const indent = strArg(args, 0, '    ', fail, 'c_lines')
    const text = asString(v, fail, 'c_lines')
    const lines = text.split(/(?<=\n)/)
    return lines.map((l) => indent + cStringLiteral(Buffer.from(l, 'utf8'))).join('\n')
  },
  /** Text or bytes → a quoted, escaped C string literal. */
  c_string: (v, _a, fail) => cStringLiteral(asBytes(typeof v === 'number' ? String(v) : v, fail, 'c_string')),
  /** Text → a valid C identifier fragment (anything else becomes `_`). */
  c_ident: (v, _a, fail) => {
    const s = asString(v, fail, 'c_ident').replace(/[^A-Za-z0-9_]/g, '_')
    return /^[0-9]/.test(s) ? `_${s}` : s
  },
  /** Text safe inside a C block comment. */
  c_comment: (v, _a, fail) => asString(v, fail, 'c_comment').replace(/\*\//g, '* /').replace(/[\r\n]+/g, ' '),
  /** Text → a quoted Kconfig / sdkconfig string value. */
  kconfig: (v, _a, fail) => {
    const s = asString(v, fail, 'kconfig')
    if (/[\r\n]/.test(s)) fail("filter 'kconfig' cannot encode a line break")
    return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
  },
  /** Bytes (or UTF-8 text) → lowercase hex. */
  hex: (v, _a, fail) => Buffer.from(asBytes(v, fail, 'hex')).toString('hex'),
  /** Bytes (or UTF-8 text) → base64. */
  base64: (v, _a, fail) => Buffer.from(asBytes(v, fail, 'base64')).toString('base64'),
  /** DER bytes → PEM with the given label: `pem "CERTIFICATE"`. */
  pem: (v, args, fail) => {
    if (!isBytes(v)) fail(`filter 'pem' needs bytes, got ${describe(v)}`)
    const label = strArg(args, 0, 'CERTIFICATE', fail, 'pem')
    const b64 = Buffer.from(v as Uint8Array).toString('base64')
    return `-----BEGIN ${label}-----\n${b64.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END ${label}-----\n`
  },
  /** Byte length of bytes or UTF-8 text, or the length of an array. */
  len: (v, _a, fail) => {
    if (isBytes(v)) return v.length
    if (typeof v === 'string') return Buffer.byteLength(v, 'utf8')
    if (Array.isArray(v)) return v.length
    return fail(`filter 'len' needs bytes, text or a list, got ${describe(v)}`)
  },
  upper: (v, _a, fail) => asString(v, fail, 'upper').toUpperCase(),
  lower: (v, _a, fail) => asString(v, fail, 'lower').toLowerCase(),
  trim: (v, _a, fail) => asString(v, fail, 'trim').trim(),
  /** The argument when the value is null, absent or empty text: `default "dev_manufacturer"`. */
  default: (v, args, fail) => {
    if (args.length !== 1) fail("filter 'default' takes exactly one argument")
    return v === null || v === undefined || v === '' ? args[0] : v
  },
  /** JSON text of the value (bytes as lowercase hex). */
  json: (v) => JSON.stringify(toJsonable(v)) ?? 'null',
}

function toJsonable(v: TemplateValue): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex')
  if (Array.isArray(v)) return v.map((x: TemplateValue) => toJsonable(x))
  if (isRecord(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJsonable(x)]))
  return v ?? null
}

/** Names of the available filters (for documentation and tests). */
export const FILTER_NAMES: readonly string[] = Object.keys(FILTERS)

function describe(v: TemplateValue): string {
  if (v === null) return 'null'
  if (v === undefined) return 'nothing'
  if (isBytes(v)) return `${v.length} bytes`
  if (Array.isArray(v)) return 'a list'
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`
}

// ---------------------------------------------------------------------------------------------------------------
// Lexer / parser

interface Tag {
  /** Raw text between the braces, trimmed. */
  body: string
  start: number
  end: number
  line: number
  col: number
}

function lineCol(src: string, index: number): { line: number; col: number } {
  let line = 1
  let last = -1
  for (let i = 0; i < index; i++) {
    if (src.charCodeAt(i) === 10) {
      line++
      last = i
    }
  }
  return { line, col: index - last }
}

/** Splits a tag body into tokens, keeping quoted strings whole. */
function tokenize(body: string, fail: (m: string) => never): string[] {
  const out: string[] = []
  let i = 0
  while (i < body.length) {
    const c = body[i]!
    if (/\s/.test(c)) {
      i++
    } else if (c === '"' || c === "'") {
      let j = i + 1
      while (j < body.length && body[j] !== c) j += body[j] === '\\' ? 2 : 1
      if (j >= body.length) fail('unterminated string literal')
      out.push(body.slice(i, j + 1))
      i = j + 1
    } else if (c === '|') {
      out.push('|')
      i++
    } else if ((c === '=' || c === '!') && body[i + 1] === '=') {
      out.push(`${c}=`)
      i += 2
    } else {
      let j = i
      while (j < body.length && !/[\s|"']/.test(body[j]!) && !((body[j] === '=' || body[j] === '!') && body[j + 1] === '=')) j++
      out.push(body.slice(i, j))
      i = j
    }
  }
  return out
}

function parseLiteral(tok: string, fail: (m: string) => never): Literal | undefined {
  if (tok.startsWith('"') || tok.startsWith("'")) {
    const inner = tok.slice(1, -1)
    return inner.replace(/\\(.)/g, (_m, ch: string) => ({ n: '\n', t: '\t', r: '\r' })[ch] ?? ch)
  }
  if (/^-?\d+$/.test(tok)) return Number(tok)
  if (tok === 'true') return true
  if (tok === 'false') return false
  if (tok === 'null') return null
  if (/^[-\d]/.test(tok)) fail(`'${tok}' is not a valid number`)
  return undefined
}

const SEGMENT = /^(@?[A-Za-z_][A-Za-z0-9_]*|\d+)$/
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype'])

function parseExpr(tok: string | undefined, fail: (m: string) => never): Expr {
  if (tok === undefined) fail('expected a variable or a literal')
  const lit = parseLiteral(tok as string, fail)
  if (lit !== undefined) return { kind: 'literal', value: lit }
  const path = (tok as string).split('.')
  for (const seg of path) {
    if (!SEGMENT.test(seg) || FORBIDDEN.has(seg)) fail(`'${tok}' is not a valid variable name`)
  }
  return { kind: 'path', path, text: tok as string }
}

function parseCond(tokens: string[], fail: (m: string) => never): Cond {
  const first = tokens[0]
  if (first !== undefined && first.startsWith('!')) {
    if (tokens.length !== 1) fail('`!value` cannot be combined with == or !=')
    return { left: parseExpr(first.slice(1), fail), not: true }
  }
  const left = parseExpr(first, fail)
  if (tokens.length === 1) return { left }
  const op = tokens[1]
  if ((op !== '==' && op !== '!=') || tokens.length !== 3) fail('a condition is `value`, `value == literal` or `value != literal`')
  const right = parseLiteral(tokens[2]!, fail)
  if (right === undefined) fail(`the right side of '${op}' must be a literal, not '${tokens[2]}'`)
  return { left, op: op as '==' | '!=', right: right as Literal }
}

/** Parses a template; syntax errors name the template, line and column. */
export function compileTemplate(source: string, name = 'template'): CompiledTemplate {
  const src = source.replace(/\r\n/g, '\n')
  // 1. find tags, honouring quotes so `{{ "}}" }}` works
  const tags: Tag[] = []
  let pos = 0
  for (;;) {
    const open = src.indexOf('{{', pos)
    if (open < 0) break
    let j = open + 2
    let quote: string | undefined
    while (j < src.length) {
      const c = src[j]!
      if (quote) {
        if (c === '\\') j++
        else if (c === quote) quote = undefined
      } else if (c === '"' || c === "'") quote = c
      else if (c === '}' && src[j + 1] === '}') break
      j++
    }
    const { line, col } = lineCol(src, open)
    if (j >= src.length) throw templateError(name, line, col, "'{{' is never closed by '}}'")
    tags.push({ body: src.slice(open + 2, j).trim(), start: open, end: j + 2, line, col })
    pos = j + 2
  }

  // 2. standalone block/comment tags swallow their whole line
  const isBlockTag = (b: string) => /^[#/!]/.test(b) || b === 'else'
  const cuts = tags.map((t) => ({ start: t.start, end: t.end }))
  tags.forEach((t, i) => {
    if (!isBlockTag(t.body)) return
    const ls = src.lastIndexOf('\n', t.start - 1) + 1
    let le = src.indexOf('\n', t.end)
    if (le < 0) le = src.length
    if (/^[ \t]*$/.test(src.slice(ls, t.start)) && /^[ \t]*$/.test(src.slice(t.end, le))) {
      cuts[i] = { start: ls, end: le < src.length ? le + 1 : le }
    }
  })

  // 3. build the tree
  const root: Node[] = []
  const stack: Array<{ node: Extract<Node, { type: 'if' | 'each' }>; keyword: string; inElse: boolean; tag: Tag }> = []
  const current = (): Node[] => {
    const top = stack[stack.length - 1]
    if (!top) return root
    if (top.node.type === 'if') return top.inElse ? top.node.else : top.node.then
    return top.node.body
  }
  let textStart = 0
  tags.forEach((t, i) => {
    const cut = cuts[i]!
    if (cut.start > textStart) current().push({ type: 'text', text: src.slice(textStart, cut.start) })
    textStart = cut.end
    const fail = (m: string): never => {
      throw templateError(name, t.line, t.col, m)
    }
    const b = t.body
    if (b.startsWith('!')) return
    if (b.startsWith('#')) {
      const tokens = tokenize(b.slice(1), fail)
      const kw = tokens.shift()
      if (kw === 'if' || kw === 'unless') {
        const node = { type: 'if' as const, cond: parseCond(tokens, fail), negate: kw === 'unless', then: [], else: [], line: t.line, col: t.col }
        current().push(node)
        stack.push({ node, keyword: kw, inElse: false, tag: t })
      } else if (kw === 'each') {
        if (tokens.length !== 1) fail('{{#each}} takes one list')
        const node = { type: 'each' as const, expr: parseExpr(tokens[0], fail), body: [], line: t.line, col: t.col }
        current().push(node)
        stack.push({ node, keyword: kw, inElse: false, tag: t })
      } else {
        fail(`unknown block '{{#${kw ?? ''}}}' (blocks are #if, #unless, #each)`)
      }
      return
    }
    if (b === 'else') {
      const top = stack[stack.length - 1]
      if (!top || top.node.type !== 'if' || top.inElse) fail('{{else}} outside an {{#if}} or {{#unless}}')
      top!.inElse = true
      return
    }
    if (b.startsWith('/')) {
      const kw = b.slice(1).trim()
      const top = stack.pop()
      if (!top) fail(`{{/${kw}}} closes nothing`)
      if (top!.keyword !== kw) fail(`{{/${kw}}} closes {{#${top!.keyword}}} opened at line ${top!.tag.line}`)
      return
    }
    const tokens = tokenize(b, fail)
    const expr = parseExpr(tokens[0], fail)
    const filters: FilterCall[] = []
    let k = 1
    while (k < tokens.length) {
      if (tokens[k] !== '|') fail(`expected '|' before '${tokens[k]}'`)
      const fname = tokens[k + 1]
      if (fname === undefined || fname === '|') fail("expected a filter name after '|'")
      if (!Object.hasOwn(FILTERS, fname!)) fail(`unknown filter '${fname}' (filters: ${FILTER_NAMES.join(', ')})`)
      k += 2
      const args: Literal[] = []
      while (k < tokens.length && tokens[k] !== '|') {
        const lit = parseLiteral(tokens[k]!, fail)
        if (lit === undefined) fail(`filter arguments must be literals, not '${tokens[k]}'`)
        args.push(lit as Literal)
        k++
      }
      filters.push({ name: fname!, args })
    }
    current().push({ type: 'out', expr, filters, line: t.line, col: t.col })
  })
  if (textStart < src.length) current().push({ type: 'text', text: src.slice(textStart) })
  const open = stack.pop()
  if (open) throw templateError(name, open.tag.line, open.tag.col, `{{#${open.keyword}}} is never closed`)

  return { name, render: (data) => renderNodes(root, [data], new Map(), name) }
}

// ---------------------------------------------------------------------------------------------------------------
// Interpreter

const MISSING = Symbol('missing')

function lookup(scopes: TemplateValue[], locals: Map<string, TemplateValue>, path: string[]): TemplateValue | typeof MISSING {
  const [head, ...rest] = path as [string, ...string[]]
  let value: TemplateValue | typeof MISSING = MISSING
  if (head === 'this') value = scopes[scopes.length - 1]
  else if (head.startsWith('@')) value = locals.has(head) ? locals.get(head) : MISSING
  else {
    // innermost scope first, so `{{#each}}` items can shadow top-level fields
    for (let i = scopes.length - 1; i >= 0; i--) {
      const s = scopes[i]
      if (isRecord(s) && Object.hasOwn(s, head)) {
        value = s[head]
        break
      }
    }
  }
  for (const seg of rest) {
    if (value === MISSING) return MISSING
    if (Array.isArray(value) && /^\d+$/.test(seg)) value = Number(seg) < value.length ? (value[Number(seg)] as TemplateValue) : MISSING
    else if (isRecord(value) && Object.hasOwn(value, seg)) value = value[seg]
    else if (value === null || value === undefined) return value
    else return MISSING
  }
  return value
}

function isRecord(v: unknown): v is { readonly [key: string]: TemplateValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)
}

function truthy(v: TemplateValue): boolean {
  if (v === null || v === undefined || v === false || v === '' || v === 0) return false
  if (isBytes(v) || Array.isArray(v)) return v.length > 0
  return true
}

function renderNodes(nodes: Node[], scopes: TemplateValue[], locals: Map<string, TemplateValue>, name: string): string {
  let out = ''
  for (const n of nodes) {
    if (n.type === 'text') {
      out += n.text
      continue
    }
    const fail = (m: string, hint?: string): never => {
      throw templateError(name, n.line, n.col, m, hint)
    }
    const evaluate = (e: Expr): TemplateValue => {
      if (e.kind === 'literal') return e.value
      const v = lookup(scopes, locals, e.path)
      if (v === MISSING) return fail(`unknown variable '${e.text}'`)
      if (typeof v === 'function') return fail(`'${e.text}' is not data`)
      return v
    }
    if (n.type === 'out') {
      let v = evaluate(n.expr)
      for (const f of n.filters) v = FILTERS[f.name]!(v, f.args, (m) => fail(m))
      out += stringify(v, n.expr, fail)
    } else if (n.type === 'if') {
      const left = evaluate(n.cond.left)
      let ok: boolean
      if (n.cond.op === undefined) ok = truthy(left) !== (n.cond.not === true)
      else {
        const eq = (left ?? null) === n.cond.right
        ok = n.cond.op === '==' ? eq : !eq
      }
      if (n.negate) ok = !ok
      out += renderNodes(ok ? n.then : n.else, scopes, locals, name)
    } else {
      const list = evaluate(n.expr)
      if (list === null || list === undefined) continue
      if (!Array.isArray(list)) fail(`{{#each}} needs a list, got ${describe(list)}`)
      const items = list as readonly TemplateValue[]
      items.forEach((item, i) => {
        const inner = new Map(locals)
        inner.set('@index', i)
        inner.set('@first', i === 0)
        inner.set('@last', i === items.length - 1)
        out += renderNodes(n.body, [...scopes, item], inner, name)
      })
    }
  }
  return out
}

function stringify(v: TemplateValue, e: Expr, fail: (m: string, hint?: string) => never): string {
  const what = e.kind === 'path' ? `'${e.text}'` : 'the value'
  if (typeof v === 'string') return v
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  if (v === null || v === undefined) {
    return fail(`${what} is not set for this credential`, 'Guard it with {{#if …}}, or give a fallback with | default "…".')
  }
  if (isBytes(v)) return fail(`${what} is binary: pipe it through a filter such as c_bytes, hex, base64 or pem`)
  return fail(`${what} is ${describe(v)}, not a printable value`)
}

/** Compiles and renders in one step. */
export function renderTemplate(source: string, data: TemplateData, name = 'template'): string {
  return compileTemplate(source, name).render(data)
}
