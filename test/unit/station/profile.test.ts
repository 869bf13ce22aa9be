import { describe, expect, it } from 'vitest'

import { isExplicit, mergeSettings, parseStationProfile } from '../../../src/core/station/profile.js'

const KNOWN = ['protocol', 'ports', 'batch', 'endpoint', 'mode', 'security', 'server', 'ca', 'count', 'continuous', 'manufacturer', 'model-number', 'days']

describe('station profiles', () => {
  it('flattens groups, accepts camelCase and aliases', () => {
    const p = parseStationProfile(
      'protocol: lwprov\nports: [/dev/ttyACM0, /dev/ttyACM1]\nworkOrder: WO-7\ncredentials:\n  mode: bootstrap\n  security: cert\n  serverUri: coaps://bs:5684\ndevice:\n  manufacturer: Acme\n  modelNumber: M1\ncontinuous: true\n',
      'line3.yaml',
      KNOWN,
    )
    expect(p).toEqual({
      protocol: 'lwprov',
      ports: ['/dev/ttyACM0', '/dev/ttyACM1'],
      batch: 'WO-7',
      mode: 'bootstrap',
      security: 'cert',
      server: 'coaps://bs:5684',
      manufacturer: 'Acme',
      'model-number': 'M1',
      continuous: true,
    })
  })

  it('names an unknown key and bad YAML', () => {
    expect(() => parseStationProfile('protocl: lwprov\n', 'l.yaml', KNOWN)).toThrowError(expect.objectContaining({ code: 'E_PROFILE_INVALID', message: expect.stringContaining("'protocl'") }))
    expect(() => parseStationProfile('a: [\n', 'l.yaml', KNOWN)).toThrowError(expect.objectContaining({ code: 'E_PROFILE_INVALID' }))
    expect(() => parseStationProfile('- a\n', 'l.yaml', KNOWN)).toThrowError(expect.objectContaining({ code: 'E_PROFILE_INVALID' }))
    expect(parseStationProfile('', 'l.yaml', KNOWN)).toEqual({})
  })

  it('applies flag > environment > profile > default', () => {
    const flags = { protocol: 'fcc', days: 3653, batch: 'WO-env', ports: undefined as string | undefined, continuous: false }
    const profile = { protocol: 'lwprov', days: 365, batch: 'WO-prof', ports: ['/a', '/b'], continuous: true }
    const argv = ['--protocol', 'fcc']
    const env = { LWPROV_BATCH: 'WO-env' }
    const envOf: Record<string, string> = { batch: 'LWPROV_BATCH', protocol: 'LWPROV_PROTOCOL' }
    const merged = mergeSettings(flags, profile, (k) => isExplicit(argv, env, k, envOf[k]))
    expect(merged).toEqual({ protocol: 'fcc', days: 365, batch: 'WO-env', ports: '/a,/b', continuous: true })
    expect(isExplicit(['--days=10'], {}, 'days')).toBe(true)
    expect(isExplicit([], { LWPROV_X: '' }, 'x', 'LWPROV_X')).toBe(false)
  })
})
