import { describe, expect, it } from 'vitest'

import { LwprovError } from '../../../src/core/errors.js'
import { validateServerUri } from '../../../src/core/lwm2m/uri.js'
import type { SecurityKind } from '../../../src/core/model.js'

describe('validateServerUri', () => {
  it.each([
    ['coaps://lwm2m.example.com:5684', 'psk'],
    ['coaps://lwm2m.example.com', 'cert'],
    ['coaps://127.0.0.1:5784', 'psk'],
    ['coaps+tcp://lwm2m.example.com:5684', 'cert'],
    ['coaps://[2001:db8::1]:5684', 'psk'],
    ['coap://127.0.0.1:5683', 'nosec'],
    ['coap+tcp://localhost:5683', 'nosec'],
    ['coaps://bs.example.com:5684', 'rpk'],
    ['coaps://x:1', 'psk'],
    ['coaps://x:65535', 'psk'],
  ] as [string, SecurityKind][])('accepts %s for %s', (uri, sec) => {
    expect(validateServerUri(uri, sec)).toBeInstanceOf(URL)
  })

  it('keeps the query (Izuma ?aid=)', () => {
    const u = validateServerUri('coaps://bootstrap.us-east-1.mbedcloud.com:5684?aid=0123456789abcdef', 'cert')
    expect(u.search).toBe('?aid=0123456789abcdef')
    expect(u.hostname).toBe('bootstrap.us-east-1.mbedcloud.com')
    expect(u.port).toBe('5684')
    expect(u.href).toBe('coaps://bootstrap.us-east-1.mbedcloud.com:5684?aid=0123456789abcdef')
  })

  it.each([
    ['', 'psk', /empty/],
    ['http://example.com', 'psk', /scheme "http"/],
    ['coapx://example.com', 'psk', /scheme/],
    ['lwm2m.example.com:5684', 'psk', /scheme|not a URI/],
    ['coaps://', 'psk', /not a URI|no host|missing/],
    ['coaps:example.com', 'psk', /missing "\/\/"/],
    ['coaps://:5684', 'psk', /not a URI|no host/],
    ['coaps://example.com:0', 'psk', /port "0"/],
    ['coaps://example.com:65536', 'psk', /port|not a URI/],
    ['coaps://example.com:abc', 'psk', /port|not a URI/],
    ['coaps://example.com:', 'psk', /port ""/],
    ['coaps://exa mple.com', 'psk', /whitespace/],
    [' coaps://example.com', 'psk', /whitespace/],
    ['coaps://example.com\n', 'psk', /whitespace/],
    ['coaps://ex_ample.com', 'psk', /host "ex_ample.com"/],
    ['coaps://user@example.com', 'psk', /user information/],
    ['coaps://example.com#frag', 'psk', /fragment/],
    ['coap://example.com:5683', 'psk', /psk needs DTLS\/TLS/],
    ['coap+tcp://example.com', 'cert', /cert needs/],
    ['coaps://127.0.0.1:5684', 'nosec', /nosec/],
    [`coaps://${'a'.repeat(250)}.com`, 'psk', /255/],
  ] as [string, SecurityKind, RegExp][])('rejects %j for %s', (uri, sec, why) => {
    let e: unknown
    try {
      validateServerUri(uri, sec)
    } catch (x) {
      e = x
    }
    expect(e).toBeInstanceOf(LwprovError)
    expect((e as LwprovError).code).toBe('E_URI_INVALID')
    expect((e as LwprovError).exitCode).toBe(2)
    expect((e as LwprovError).message).toMatch(why)
    expect((e as LwprovError).hint).toBeTruthy()
  })
})
