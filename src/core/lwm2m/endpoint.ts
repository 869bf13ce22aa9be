/**
 * Endpoint Client Names (docs/lwm2m.md §6): validation and batch templates.
 *
 * Rules, and why:
 * - 1..64 characters: the name is also the certificate CN, and RFC 5280 caps CN at 64 (ub-common-name).
 * - Visible ASCII from the URI character set only (no spaces, controls, non-ASCII, `"#%<>[\]^`{|}`): the name
 *   travels in the CoAP `ep=` query and in CSV/JSON exports, and braces would be read as template placeholders.
 * - URN forms get their own syntax: `urn:uuid` (lowercase 8-4-4-4-12), `urn:imei` (15 digits, Luhn check digit),
 *   `urn:imei-msisdn`, `urn:esn` (8 hex), `urn:meid` (14 hex), and RFC 9039 `urn:dev:` (mac/ow lowercase hex pairs,
 *   org/os/ops with a decimal enterprise number, product without '-', `_component` suffixes). The LwM2M TS writes
 *   `urn:dev:os:{OUI}-…` / `urn:dev:ops:{OUI}-…` with a hex OUI, which RFC 9039's decimal grammar does not match;
 *   we deliberately accept a 6-hex-digit OUI there too, because devices in the field use the TS form
 *   (e.g. `urn:dev:os:320973-0973BA000007`).
 */
import { randomBytes } from 'node:crypto'

import { LwprovError } from '../errors.js'

/** RFC 5280 ub-common-name: the endpoint name is the certificate CN. */
export const ENDPOINT_MAX_LENGTH = 64

const endpointError = (name: string, problem: string, hint: string) =>
  new LwprovError('E_ENDPOINT_INVALID', `invalid endpoint name "${printable(name)}": ${problem}`, {
    hint,
    exit: 'usage',
    details: { endpoint: name },
  })

const printable = (s: string) => s.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)

/** Characters allowed anywhere in a name: RFC 3986 unreserved + sub-delims + ":" "@" "/" "?". */
const NAME_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/?]+$/

/** The recognised kind of an endpoint name. */
export type EndpointNameKind = 'uuid' | 'imei' | 'imei-msisdn' | 'esn' | 'meid' | 'dev' | 'urn' | 'plain'

/** Luhn check (ISO/IEC 7812) over a digit string, check digit last. */
export function luhnValid(digits: string): boolean {
  let sum = 0
  for (let i = digits.length - 1, dbl = false; i >= 0; i--, dbl = !dbl) {
    let d = digits.charCodeAt(i) - 48
    if (dbl) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
  }
  return sum % 10 === 0
}

const IDENT = /^[A-Za-z0-9.-]+$/ // RFC 9039 identifier (devunreserved)
const IDENT_NODASH = /^[A-Za-z0-9.]+$/
const POSNUMBER = /^[1-9][0-9]*$/
const TS_OUI = /^[0-9A-Fa-f]{6}$/

function checkDevUrn(name: string, rest: string): void {
  const bad = (problem: string, hint: string): never => {
    throw endpointError(name, problem, hint)
  }
  const [body = '', ...components] = rest.split('_')
  for (const c of components)
    if (!IDENT.test(c)) bad(`component "_${c}" is not letters, digits, "." or "-"`, 'RFC 9039: urn:dev:<body>_<component>, e.g. urn:dev:mac:0024befffe804ff1_sensor1.')
  const colon = body.indexOf(':')
  if (colon <= 0) bad('urn:dev: needs a subtype (mac, ow, org, os, ops, …) and an identifier', 'e.g. urn:dev:mac:0024befffe804ff1 or urn:dev:os:32473-123456.')
  const subtype = body.slice(0, colon)
  const value = body.slice(colon + 1)
  const hexPairs = (what: string) => {
    if (/[A-F]/.test(value)) bad(`${what} hex must be lowercase`, `Write ${value.toLowerCase()}.`)
    if (!/^(?:[0-9a-f]{2})+$/.test(value)) bad(`${what} must be hex digit pairs without separators`, 'e.g. urn:dev:mac:0024befffe804ff1.')
  }
  const enterprise = (n: string, form: string) => {
    if (!POSNUMBER.test(n) && !TS_OUI.test(n))
      bad(`"${n}" is neither a decimal enterprise number (RFC 9039) nor a 6-hex-digit OUI (LwM2M TS)`, `Write urn:dev:${form}.`)
  }
  const extraIdents = (parts: string[], what: string) => {
    for (const p of parts) if (!IDENT.test(p)) bad(`${what} "${p}" may only contain letters, digits, "." and "-"`, 'RFC 9039 identifiers are [A-Za-z0-9.-].')
  }
  switch (subtype) {
    case 'mac':
      hexPairs('MAC')
      if (value.length !== 12 && value.length !== 16) bad('a MAC is 6 (EUI-48) or 8 (EUI-64) bytes', 'e.g. urn:dev:mac:0024befffe804ff1.')
      return
    case 'ow':
      hexPairs('1-Wire id')
      return
    case 'org':
    case 'os': {
      const form = subtype === 'org' ? 'org:<number>-<identifier>' : 'os:<number>-<serial>'
      const dash = value.indexOf('-')
      if (dash <= 0) bad(`urn:dev:${subtype} needs <number>-<${subtype === 'os' ? 'serial' : 'identifier'}>`, `Write urn:dev:${form}, e.g. urn:dev:os:32473-123456.`)
      enterprise(value.slice(0, dash), form)
      const [serial = '', ...more] = value.slice(dash + 1).split(':')
      if (serial === '') bad(`urn:dev:${subtype} has an empty ${subtype === 'os' ? 'serial' : 'identifier'}`, `Write urn:dev:${form}.`)
      extraIdents([serial, ...more], subtype === 'os' ? 'serial' : 'identifier')
      return
    }
    case 'ops': {
      const form = 'ops:<number>-<product>-<serial>'
      const m = /^([^-]*)-([^-]*)-(.+)$/.exec(value)
      if (!m) bad('urn:dev:ops needs <number>-<product>-<serial>', `Write urn:dev:${form} (the product may not contain "-").`)
      enterprise(m![1]!, form)
      if (!IDENT_NODASH.test(m![2]!)) bad(`product "${m![2]}" may only contain letters, digits and "."`, `Write urn:dev:${form}.`)
      const [serial = '', ...more] = m![3]!.split(':')
      extraIdents([serial, ...more], 'serial')
      return
    }
    default: {
      if (!/^[a-z][a-z0-9]*$/.test(subtype)) bad(`subtype "${subtype}" must be lowercase letters and digits`, 'RFC 9039 subtypes: mac, ow, org, os, ops, or another lowercase word.')
      const parts = value.split(':')
      if (parts.some((p) => p === '')) bad('empty identifier', 'Write urn:dev:<subtype>:<identifier>.')
      extraIdents(parts, 'identifier')
    }
  }
}

function checkUrn(name: string): EndpointNameKind {
  const m = /^urn:([^:]*):(.*)$/is.exec(name)
  if (!m) throw endpointError(name, 'a URN needs urn:<namespace>:<specific part>', 'e.g. urn:uuid:…, urn:imei:…, urn:dev:os:…')
  const nid = m[1]!
  const nss = m[2]!
  const lowerNid = nid.toLowerCase()
  const known = ['uuid', 'imei', 'imei-msisdn', 'esn', 'meid', 'dev'].includes(lowerNid)
  if (known && !name.startsWith(`urn:${lowerNid}:`))
    throw endpointError(name, 'write the URN prefix in lowercase', `Servers compare names byte for byte; use urn:${lowerNid}:${nss}.`)
  if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,30}[A-Za-z0-9]$/.test(nid))
    throw endpointError(name, `"${nid}" is not a URN namespace identifier`, 'RFC 8141: 2-32 letters, digits and "-".')
  if (nss === '') throw endpointError(name, 'empty namespace-specific part', `Write urn:${nid}:<value>.`)
  switch (lowerNid) {
    case 'uuid':
      if (/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(nss) && /[A-F]/.test(nss))
        throw endpointError(name, 'UUID hex must be lowercase', `Write urn:uuid:${nss.toLowerCase()}.`)
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(nss))
        throw endpointError(name, 'not a UUID (8-4-4-4-12 lowercase hex digits)', 'e.g. urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6 (or use the {uuid} placeholder).')
      return 'uuid'
    case 'imei':
      checkImei(name, nss)
      return 'imei'
    case 'imei-msisdn': {
      const [imei = '', msisdn, ...extra] = nss.split('-')
      checkImei(name, imei)
      if (msisdn === undefined || extra.length > 0 || !/^[0-9]{1,15}$/.test(msisdn))
        throw endpointError(name, 'urn:imei-msisdn needs <15-digit IMEI>-<MSISDN of up to 15 digits>', 'e.g. urn:imei-msisdn:490154203237518-15555550100.')
      return 'imei-msisdn'
    }
    case 'esn':
      if (!/^[0-9A-Fa-f]{8}$/.test(nss)) throw endpointError(name, 'an ESN is 8 hex digits', 'e.g. urn:esn:80a1b2c3.')
      return 'esn'
    case 'meid':
      if (!/^[0-9A-Fa-f]{14}$/.test(nss)) throw endpointError(name, 'a MEID is 14 hex digits', 'e.g. urn:meid:a0000012345678.')
      return 'meid'
    case 'dev':
      checkDevUrn(name, nss)
      return 'dev'
    default:
      return 'urn'
  }
}

function checkImei(name: string, imei: string): void {
  if (!/^[0-9]{15}$/.test(imei)) throw endpointError(name, `IMEI "${imei}" is not 15 digits`, 'e.g. urn:imei:490154203237518.')
  if (!luhnValid(imei)) throw endpointError(name, `IMEI ${imei} fails its Luhn check digit`, 'Check the IMEI for a typo (the 15th digit is a Luhn check digit).')
}

/**
 * Checks an endpoint name (characters, length, and the URN form's own syntax) and returns its kind.
 * Throws `E_ENDPOINT_INVALID` with a hint.
 */
export function validateEndpointName(name: string): EndpointNameKind {
  if (typeof name !== 'string' || name.length === 0) throw endpointError(String(name ?? ''), 'empty', 'Give a name such as urn:dev:os:32473-SN0001.')
  if (name.length > ENDPOINT_MAX_LENGTH)
    throw endpointError(name, `${name.length} characters, more than ${ENDPOINT_MAX_LENGTH}`, 'The name is the certificate CN, which RFC 5280 limits to 64 characters; shorten it.')
  if (!NAME_CHARS.test(name)) {
    const i = [...name].findIndex((c) => !NAME_CHARS.test(c))
    const c = [...name][i]!
    const what = /\s/.test(c) ? 'whitespace' : /[\x00-\x1f\x7f]/.test(c) ? 'a control character' : c.charCodeAt(0) > 0x7e ? 'a non-ASCII character' : `"${c}"`
    throw endpointError(name, `${what} at position ${i + 1}`, 'Use letters, digits and - . _ ~ : / @ ! $ & \' ( ) * + , ; = ? only.')
  }
  if (/^urn:/i.test(name)) return checkUrn(name)
  return 'plain'
}

/** Device-reported fields a template may use; filled in at injection. */
export type DeviceField = 'imei' | 'mac' | 'serial'

/** What `render` needs. */
export interface EndpointRenderContext {
  seq?: number
  now: Date
  random: (n: number) => Buffer
  device?: { imei?: string; mac?: string; serial?: string }
}

/** A parsed `--endpoint` value: a literal name or a template with placeholders. */
export interface EndpointTemplate {
  /** The template text as given. */
  source: string
  /** The key the manifest keys its `{seq}` counter by: the template string itself. */
  seqKey: string
  hasSeq: boolean
  /** Zero-padding width of `{seq:0N}`; 0 for `{seq}`. */
  seqWidth: number
  /** Device placeholders used, in order of first appearance. */
  deviceFields: DeviceField[]
  /** True when the template can yield distinct names ({seq}, {uuid}, {hex:N} or a device field); `{date}` alone cannot. */
  isTemplate: boolean
  /** True when the text contains any placeholder at all (including `{date}`). */
  hasPlaceholders: boolean
  /** Renders one name and validates it (`E_ENDPOINT_INVALID`). */
  render(ctx: EndpointRenderContext): string
  /** Renders without endpoint-name validation, for other per-device strings built from the same placeholders (e.g. `--serial-number SN-{seq:06}`). */
  renderText(ctx: EndpointRenderContext): string
}

export const TEMPLATE_PLACEHOLDERS = ['{seq}', '{seq:06}', '{uuid}', '{hex:8}', '{date}', '{imei}', '{mac}', '{serial}'] as const

const PLACEHOLDER_HINT = `Valid placeholders: ${TEMPLATE_PLACEHOLDERS.join(' ')} ({seq:0N} pads to N digits, {hex:N} gives N random hex digits, {date} is YYYYMMDD in UTC).`

const templateError = (t: string, problem: string, hint = PLACEHOLDER_HINT) =>
  new LwprovError('E_TEMPLATE_INVALID', `invalid endpoint template "${printable(t)}": ${problem}`, { hint, exit: 'usage', details: { template: t } })

type Part =
  | { kind: 'text'; text: string }
  | { kind: 'seq'; width: number }
  | { kind: 'uuid' }
  | { kind: 'hex'; digits: number }
  | { kind: 'date' }
  | { kind: 'device'; field: DeviceField }

function uuidV4(b: Buffer): string {
  const x = Buffer.from(b.subarray(0, 16))
  x[6] = (x[6]! & 0x0f) | 0x40
  x[8] = (x[8]! & 0x3f) | 0x80
  const h = x.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

function deviceValue(field: DeviceField, raw: string | undefined): string {
  if (raw === undefined || raw === '')
    throw new LwprovError('E_TEMPLATE_DEVICE_FIELD', `the endpoint template needs {${field}}, but the device did not report its ${field}`, {
      hint: 'Use a template without device placeholders, or a device/firmware that reports serial, IMEI and MAC in its hello.',
      exit: 'device',
    })
  // MACs arrive as 00:24:BE:…, 00-24-be-… or 0024be…; RFC 9039 wants lowercase hex without separators.
  if (field === 'mac') return raw.replace(/[:.-]/g, '').toLowerCase()
  return raw.trim()
}

/**
 * Parses `--endpoint NAME|TEMPLATE`. Placeholders: `{seq}`, `{seq:0N}`, `{uuid}`, `{hex:N}` (1..32), `{date}`,
 * and the device-filled `{imei}`, `{mac}`, `{serial}`. Throws `E_TEMPLATE_INVALID` (unknown placeholder, unbalanced
 * braces, a literal part with characters no endpoint name may hold, or a template whose shortest rendering is
 * already longer than 64 characters).
 */
export function parseEndpointTemplate(t: string): EndpointTemplate {
  if (typeof t !== 'string' || t.length === 0) throw templateError(String(t ?? ''), 'empty', 'Give a name or a template such as urn:dev:os:32473-SN{seq:06}.')
  const parts: Part[] = []
  let i = 0
  while (i < t.length) {
    const open = t.indexOf('{', i)
    const close = t.indexOf('}', i)
    if (close !== -1 && (open === -1 || close < open)) throw templateError(t, `unbalanced "}" at position ${close + 1}`)
    if (open === -1) {
      parts.push({ kind: 'text', text: t.slice(i) })
      break
    }
    if (open > i) parts.push({ kind: 'text', text: t.slice(i, open) })
    const end = t.indexOf('}', open)
    const nested = t.indexOf('{', open + 1)
    if (end === -1 || (nested !== -1 && nested < end)) throw templateError(t, `unbalanced "{" at position ${open + 1}`)
    const body = t.slice(open + 1, end)
    let m: RegExpExecArray | null
    if (body === 'seq') parts.push({ kind: 'seq', width: 0 })
    else if ((m = /^seq:0([1-9][0-9]?)$/.exec(body))) parts.push({ kind: 'seq', width: Number(m[1]) })
    else if (/^seq:[0-9]+$/.test(body)) throw templateError(t, `{${body}}: the width needs a leading 0`, 'Write {seq:06} for six zero-padded digits, or {seq} for no padding.')
    else if (body === 'uuid') parts.push({ kind: 'uuid' })
    else if ((m = /^hex:([0-9]+)$/.exec(body))) {
      const digits = Number(m[1])
      if (digits < 1 || digits > 32) throw templateError(t, `{${body}}: hex digits must be 1..32`, 'e.g. {hex:8}.')
      parts.push({ kind: 'hex', digits })
    } else if (body === 'date') parts.push({ kind: 'date' })
    else if (body === 'imei' || body === 'mac' || body === 'serial') parts.push({ kind: 'device', field: body })
    else throw templateError(t, `unknown placeholder {${body}}`)
    i = end + 1
  }

  for (const p of parts)
    if (p.kind === 'text' && !NAME_CHARS.test(p.text)) {
      const c = [...p.text].find((ch) => !NAME_CHARS.test(ch))!
      throw templateError(t, `the literal part contains ${/\s/.test(c) ? 'whitespace' : `"${printable(c)}"`}, which no endpoint name may hold`, 'Use letters, digits and - . _ ~ : / @ ! $ & \' ( ) * + , ; = ? only.')
    }
  const minLen = parts.reduce(
    (n, p) =>
      n +
      (p.kind === 'text' ? p.text.length : p.kind === 'seq' ? Math.max(1, p.width) : p.kind === 'uuid' ? 36 : p.kind === 'hex' ? p.digits : p.kind === 'date' ? 8 : 1),
    0,
  )
  if (minLen > ENDPOINT_MAX_LENGTH)
    throw templateError(t, `every name would be at least ${minLen} characters, more than ${ENDPOINT_MAX_LENGTH}`, 'Endpoint names are certificate CNs (at most 64 characters); shorten the template.')

  const seqPart = parts.find((p): p is Extract<Part, { kind: 'seq' }> => p.kind === 'seq')
  const deviceFields: DeviceField[] = []
  for (const p of parts) if (p.kind === 'device' && !deviceFields.includes(p.field)) deviceFields.push(p.field)
  const hasPlaceholders = parts.some((p) => p.kind !== 'text')
  const isTemplate = parts.some((p) => p.kind === 'seq' || p.kind === 'uuid' || p.kind === 'hex' || p.kind === 'device')
  // A literal name is validated now, so a bad --endpoint fails before anything else happens.
  if (!hasPlaceholders) validateEndpointName(t)

  const renderText = (ctx: EndpointRenderContext): string => {
    let out = ''
    for (const p of parts) {
      switch (p.kind) {
        case 'text':
          out += p.text
          break
        case 'seq': {
          const s = ctx.seq
          if (s === undefined || !Number.isSafeInteger(s) || s < 0)
            throw templateError(t, `{seq} needs a non-negative integer sequence number, got ${String(s)}`, 'The manifest allocates {seq} numbers; pass --start N to choose the first one.')
          out += String(s).padStart(p.width, '0')
          break
        }
        case 'uuid':
          out += uuidV4((ctx.random ?? randomBytes)(16))
          break
        case 'hex':
          out += (ctx.random ?? randomBytes)(Math.ceil(p.digits / 2)).toString('hex').slice(0, p.digits)
          break
        case 'date': {
          const d = ctx.now
          out += `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`
          break
        }
        case 'device':
          out += deviceValue(p.field, ctx.device?.[p.field])
          break
      }
    }
    return out
  }
  return {
    source: t,
    seqKey: t,
    hasSeq: seqPart !== undefined,
    seqWidth: seqPart?.width ?? 0,
    deviceFields,
    isTemplate,
    hasPlaceholders,
    render: (ctx: EndpointRenderContext): string => {
      const out = renderText(ctx)
      validateEndpointName(out)
      return out
    },
    renderText,
  }
}

/**
 * Refuses to issue `count` names from a template that cannot make them distinct (a literal name, or only `{date}`).
 * Throws `E_TEMPLATE_NOT_UNIQUE`.
 */
export function assertTemplateCanProduce(t: EndpointTemplate, count: number): void {
  if (count > 1 && !t.isTemplate)
    throw new LwprovError(
      'E_TEMPLATE_NOT_UNIQUE',
      `"${printable(t.source)}" ${t.hasPlaceholders ? 'yields the same name for every device' : 'is a single name'}, so --count ${count} would issue it ${count} times`,
      { hint: 'Add {seq:06}, {uuid} or {hex:8} to the endpoint template, or use --count 1.', exit: 'usage', details: { template: t.source, count } },
    )
}
