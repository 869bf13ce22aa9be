/**
 * The data model every devcert template is rendered against. It is the public contract of `--template PATH`: field
 * names here are documented in templates/devcert/README.md and `lwprov devcert --help`, and must not be renamed.
 * Absent values are `null` (never missing), so templates can test them with `{{#if …}}` and a misspelt name is
 * still an error.
 */
import type { CredentialSet, DeviceInfo } from '../model.js'
import type { TemplateData } from './render.js'

/** Device information as templates see it; every field `null` unless given with the device-info flags. */
export interface DevcertDeviceModel {
  [key: string]: string | number | null
  manufacturer: string | null
  modelNumber: string | null
  deviceType: string | null
  hardwareVersion: string | null
  serialNumber: string | null
  memoryTotalKb: number | null
  timezone: string | null
  utcOffset: string | null
}

/** What `{{…}}` can name. Bytes fields are DER (or raw PSK bytes) and need a filter to print. */
export interface DevcertModel extends TemplateData {
  /** Endpoint client name; also the certificate CN. */
  endpoint: string
  /** Server URI (/0/x/0): the bootstrap server in bootstrap mode, the LwM2M server in direct mode. */
  serverUri: string
  /** The URI's `aid` query parameter (Izuma account id), or null. */
  serverAid: string | null
  /** 'bootstrap' or 'direct'. */
  mode: string
  /** /0/x/1 Bootstrap-Server: true in bootstrap mode. */
  bootstrap: boolean
  /** 'cert' or 'psk'. */
  security: string
  /** /0/x/2 Security Mode number: 0 PSK, 2 certificate. */
  securityMode: number
  /** Short Server ID (/0/x/10 = /1/y/0). */
  ssid: number
  /** Registration lifetime /1/y/1, seconds. */
  lifetime: number
  /** Binding /1/y/7. */
  binding: string
  /** /1/y/6 Notification Storing. */
  notificationStoring: boolean
  /** Certificate Usage /0/x/15, or null when not applicable. */
  certificateUsage: number | null
  /** Account id (certificate OU, Izuma `aid`), or null. */
  accountId: string | null
  /** Device certificate DER (/0/x/3 in cert mode), or null. */
  certificate: Uint8Array | null
  /** Device private key, PKCS#8 DER (/0/x/5 in cert mode), or null. */
  key: Uint8Array | null
  /** Server trust anchor DER (/0/x/4, `--server-ca`), or null. */
  serverCa: Uint8Array | null
  /** PSK bytes (/0/x/5 in PSK mode), or null. */
  psk: Uint8Array | null
  /** PSK identity text (/0/x/3 in PSK mode), or null. */
  identity: string | null
  /** SHA-256 of the certificate DER, lowercase hex, or null. */
  fingerprint: string | null
  /** Certificate serial, lowercase hex, or null. */
  serial: string | null
  /** Certificate notAfter, ISO 8601, or null. */
  notAfter: string | null
  device: DevcertDeviceModel
  /** When the file was rendered, ISO 8601. */
  generatedAt: string
  /** `lwprov <version>`. */
  generator: string
  /** Template name (built-in id or file name). */
  template: string
  /** The `--out` file: `name` (base name), `stem` (name without its last extension), `ext` (with the dot, or ''). */
  out: { name: string; stem: string; ext: string }
}

export interface DevcertModelInput {
  credential: CredentialSet
  device?: DeviceInfo
  template: string
  /** Base name of `--out` (no directory: rendered files must not depend on where they are written). */
  outName: string
  generatedAt: Date
  generator: string
}

/** The `aid` query parameter of a server URI (Izuma account id), or null. */
export function serverAid(uri: string): string | null {
  const q = uri.indexOf('?')
  if (q < 0) return null
  const aid = new URLSearchParams(uri.slice(q + 1)).get('aid')
  return aid === null || aid === '' ? null : aid
}

/** Splits a file name into stem and extension (`a.b.c` → `a.b` + `.c`; dotfiles have no extension). */
export function splitName(name: string): { name: string; stem: string; ext: string } {
  const dot = name.lastIndexOf('.')
  if (dot <= 0) return { name, stem: name, ext: '' }
  return { name, stem: name.slice(0, dot), ext: name.slice(dot) }
}

/** Builds the template data model from a credential set. */
export function buildDevcertModel(input: DevcertModelInput): DevcertModel {
  const c = input.credential
  const d = input.device ?? {}
  const aid = serverAid(c.serverUri)
  return {
    endpoint: c.endpoint,
    serverUri: c.serverUri,
    serverAid: aid,
    mode: c.mode,
    bootstrap: c.mode === 'bootstrap',
    security: c.security,
    securityMode: { psk: 0, rpk: 1, cert: 2, nosec: 3 }[c.security],
    ssid: c.shortServerId,
    lifetime: c.lifetime,
    binding: c.binding,
    notificationStoring: c.notificationStoring,
    certificateUsage: c.certificateUsage ?? null,
    accountId: c.accountId ?? aid,
    certificate: c.certificateDer ? Buffer.from(c.certificateDer) : null,
    key: c.privateKeyDer ? Buffer.from(c.privateKeyDer) : null,
    serverCa: c.serverCaDer ? Buffer.from(c.serverCaDer) : null,
    psk: c.psk ? Buffer.from(c.psk) : null,
    identity: c.pskIdentity ?? null,
    fingerprint: c.fingerprint ?? null,
    serial: c.serialHex ?? null,
    notAfter: c.notAfter ? c.notAfter.toISOString() : null,
    device: {
      manufacturer: d.manufacturer ?? null,
      modelNumber: d.modelNumber ?? null,
      deviceType: d.deviceType ?? null,
      hardwareVersion: d.hardwareVersion ?? null,
      serialNumber: d.serialNumber ?? null,
      memoryTotalKb: d.memoryTotalKb ?? null,
      timezone: d.timezone ?? null,
      utcOffset: d.utcOffset ?? null,
    },
    generatedAt: input.generatedAt.toISOString(),
    generator: input.generator,
    template: input.template,
    out: splitName(input.outName),
  }
}

/** One line per model field, for `--help` and the README (kept next to the interface so they stay in step). */
export const MODEL_FIELD_DOCS: ReadonlyArray<readonly [string, string]> = [
  ['endpoint', 'endpoint client name (= certificate CN)'],
  ['serverUri', 'server URI /0/x/0'],
  ['serverAid', "the URI's aid= parameter, or null"],
  ['mode', "'bootstrap' or 'direct'"],
  ['bootstrap', '/0/x/1, true in bootstrap mode'],
  ['security', "'cert' or 'psk'"],
  ['securityMode', '/0/x/2: 0 PSK, 2 certificate'],
  ['ssid', 'Short Server ID /0/x/10 = /1/y/0'],
  ['lifetime', '/1/y/1 seconds'],
  ['binding', '/1/y/7'],
  ['notificationStoring', '/1/y/6'],
  ['certificateUsage', '/0/x/15 or null'],
  ['accountId', 'account id (--account-id, else the URI aid) or null'],
  ['certificate', 'device certificate DER or null (bytes)'],
  ['key', 'device private key PKCS#8 DER or null (bytes)'],
  ['serverCa', 'server trust anchor DER (--server-ca) or null (bytes)'],
  ['psk', 'PSK or null (bytes)'],
  ['identity', 'PSK identity or null'],
  ['fingerprint', 'SHA-256 of the certificate DER, hex, or null'],
  ['serial', 'certificate serial, hex, or null'],
  ['notAfter', 'certificate expiry, ISO 8601, or null'],
  ['device.manufacturer | modelNumber | deviceType | hardwareVersion | serialNumber | memoryTotalKb | timezone | utcOffset', 'device-info flags or null'],
  ['generatedAt', 'render time, ISO 8601'],
  ['generator', "'lwprov <version>'"],
  ['template', 'template name'],
  ['out.name | out.stem | out.ext', '--out file name, without extension, extension'],
]
