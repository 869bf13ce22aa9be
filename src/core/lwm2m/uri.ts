/**
 * LwM2M Server URI (/0/x/0) validation: RFC 7252 §6 `coap`/`coaps` plus RFC 8323 `coap+tcp`/`coaps+tcp`.
 * The scheme must match the security mode: the client refuses `coap://` with PSK or certificates and `coaps://`
 * with NoSec (vectors/senml README, "Security modes").
 */
import { LwprovError } from '../errors.js'
import type { SecurityKind } from '../model.js'

const SCHEMES = new Set(['coap:', 'coaps:', 'coap+tcp:', 'coaps+tcp:'])
const SECURE = new Set(['coaps:', 'coaps+tcp:'])
/** /0/x/0 is a String 0..255. */
const MAX_URI = 255

const uriError = (uri: string, problem: string, hint: string) =>
  new LwprovError('E_URI_INVALID', `invalid LwM2M server URI "${uri}": ${problem}`, { hint, exit: 'usage', details: { uri } })

const EXAMPLE = 'e.g. coaps://lwm2m.example.com:5684 (psk, cert) or coap://127.0.0.1:5683 (nosec)'

/**
 * Validates a server or bootstrap-server URI for a security mode and returns it parsed. The query (Izuma's
 * `?aid=<account id>`) is kept. Throws `E_URI_INVALID` with a hint naming the fix.
 */
export function validateServerUri(uri: string, security: SecurityKind): URL {
  if (typeof uri !== 'string' || uri.length === 0) throw uriError(String(uri), 'empty', `Pass --server, ${EXAMPLE}.`)
  // WHATWG URL silently trims surrounding whitespace and drops tabs/newlines; the device would not.
  if (/[\s\x00-\x1f\x7f]/.test(uri)) throw uriError(uri, 'contains whitespace or control characters', 'Remove spaces and line breaks from the URI.')
  if (uri.length > MAX_URI) throw uriError(uri, `longer than ${MAX_URI} characters`, 'LwM2M stores the URI in a String 0..255 resource; shorten it.')
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    throw uriError(uri, 'not a URI', `Write scheme://host[:port], ${EXAMPLE}.`)
  }
  if (!SCHEMES.has(url.protocol))
    throw uriError(uri, `scheme "${url.protocol.slice(0, -1)}" is not coap, coaps, coap+tcp or coaps+tcp`, `Use ${EXAMPLE}.`)
  if (!uri.toLowerCase().startsWith(`${url.protocol}//`)) throw uriError(uri, 'missing "//" and host', `Write scheme://host[:port], ${EXAMPLE}.`)
  const host = url.hostname
  if (host === '') throw uriError(uri, 'no host', `Write scheme://host[:port], ${EXAMPLE}.`)
  if (!/^\[[0-9A-Fa-f:.]+\]$/.test(host) && !/^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host))
    throw uriError(uri, `host "${host}" is not a DNS name or IP address`, 'Use letters, digits, dots and hyphens, or an [IPv6] literal.')
  if (url.username !== '' || url.password !== '') throw uriError(uri, 'user information is not allowed', 'Remove "user@" from the URI.')
  if (url.hash !== '') throw uriError(uri, 'a fragment is not allowed', 'Remove the "#…" part.')
  // The port as written: URL drops a port equal to a special scheme's default, and accepts 0.
  const m = /^[^:]+:\/\/(?:\[[^\]]*\]|[^/:?#]*)(?::([^/?#]*))?/.exec(uri)
  const portText = m?.[1]
  if (portText !== undefined) {
    const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN
    if (!(port >= 1 && port <= 65535)) throw uriError(uri, `port "${portText}" is not 1..65535`, 'CoAP defaults: 5683 (coap), 5684 (coaps).')
  }
  const secure = SECURE.has(url.protocol)
  if (security === 'nosec' && secure)
    throw uriError(uri, 'coaps needs a security mode, but --security is nosec', 'Use coap:// (e.g. coap://127.0.0.1:5683) for nosec, or --security psk|cert.')
  if (security !== 'nosec' && !secure)
    throw uriError(uri, `${security} needs DTLS/TLS, but the scheme is ${url.protocol.slice(0, -1)}`, `Use coaps:// (or coaps+tcp://) with --security ${security}.`)
  return url
}
