import { describe, expect, it } from 'vitest'

import { FccItem, type FccBundleInput } from '../../../src/core/inject/fcc/bundle.js'
import { FCC_STATUSES, fccError, fccStatusInfo, ftcdError, parseWarningInfo, splitInfo } from '../../../src/core/inject/fcc/status.js'
import { checkDeviceInfo, checkFccCredentials, isValidUtcOffset, precheckInput } from '../../../src/core/inject/fcc/verify.js'
import { LwprovError } from '../../../src/core/errors.js'
import { throwawayCa } from './ca.js'
import { key, loadCases } from './vectors.js'

describe('fcc_status_e table', () => {
  it('covers 0..37 with unique codes, messages and hints', () => {
    const codes = new Set<string>()
    for (let i = 0; i <= 37; i++) {
      const s = FCC_STATUSES.get(i)
      expect(s, `status ${i}`).toBeDefined()
      expect(s!.name).toMatch(/^FCC_STATUS_/)
      expect(s!.message.length).toBeGreaterThan(10)
      if (i > 0) expect(s!.hint.length).toBeGreaterThan(10)
      codes.add(s!.errorCode)
    }
    expect(codes.size).toBe(38)
    expect(fccStatusInfo(14).errorCode).toBe('E_FCC_CN_MISMATCH')
    expect(fccStatusInfo(99).errorCode).toBe('E_FCC_STATUS_99')
  })

  it("knows the device's InfoMessage prefix for every status seen in the vectors", () => {
    for (const c of loadCases()) {
      for (const m of c.messages) {
        if (!m.map) continue
        const info = splitInfo(m.map.InfoMessage as string)
        expect(fccStatusInfo(m.map.ReturnStatus as number).infoPrefix).toBe(info.prefix)
      }
    }
  })

  it('splits WarningInfo lines', () => {
    expect(parseWarningInfo('Item not set:mbed.Timezone\nBootstrap mode not activated:mbed.UseBootstrap\n')).toEqual([
      { prefix: 'Item not set', item: 'mbed.Timezone' },
      { prefix: 'Bootstrap mode not activated', item: 'mbed.UseBootstrap' },
    ])
    expect(parseWarningInfo(undefined)).toEqual([])
  })

  it('builds errors with the family, hint and details', () => {
    const e = fccError(25, { item: 'mbed.SerialNumber', infoMessage: 'Item does not exist:mbed.SerialNumber', link: '/dev/ttyUSB0' })
    expect(e).toBeInstanceOf(LwprovError)
    expect(e.code).toBe('E_FCC_ITEM_NOT_EXIST')
    expect(e.exitCode).toBe(4)
    expect(e.message).toContain('/dev/ttyUSB0')
    expect(e.message).toContain('mbed.SerialNumber')
    expect(e.hint).toContain('--serial-number')
    expect(ftcdError(8).exitCode).toBe(5)
    expect(ftcdError(9).exitCode).toBe(4)
  })
})

describe('host pre-checks', () => {
  const AID = '0123456789abcdef0123456789abcdef'
  const base = (over: Partial<FccBundleInput> = {}): FccBundleInput => ({
    mode: 'bootstrap',
    endpoint: 'ep-1',
    serverUri: `coap://bs.example.com:5683?x=1&aid=${AID}`,
    serverCaDer: key('test-server-ca.cert.der'),
    deviceInfo: { manufacturer: 'a', modelNumber: 'b', deviceType: 'c', hardwareVersion: 'd', serialNumber: 'e', memoryTotalKb: 0 },
    currentTime: new Date('2030-01-01T00:00:00Z'),
    ...over,
  })
  const code = async (p: Promise<unknown>) => {
    try {
      await p
      return 'ok'
    } catch (e) {
      return (e as LwprovError).code
    }
  }

  it('checks EKU clientAuth, expiry, CN and OU on freshly issued certificates', async () => {
    const ca = await throwawayCa()
    const good = await ca.issue({ cn: 'ep-1' })
    const r = await precheckInput(base({ certificateDer: good.certDer, privateKeyDer: good.keyDer }))
    expect(r.warnings.map((w) => w.item)).toContain(FccItem.Timezone)
    const noEku = await ca.issue({ cn: 'ep-1', clientAuth: false })
    expect(await code(precheckInput(base({ certificateDer: noEku.certDer, privateKeyDer: noEku.keyDer })))).toBe('E_FCC_INVALID_CERTIFICATE')
    const old = await ca.issue({ cn: 'ep-1', notAfter: new Date('2029-01-01T00:00:00Z') })
    expect(await code(precheckInput(base({ certificateDer: old.certDer, privateKeyDer: old.keyDer })))).toBe('E_FCC_EXPIRED_CERTIFICATE')
    const directOk = await ca.issue({ cn: 'ep-1', ou: AID })
    const d = { mode: 'direct' as const, certificateDer: directOk.certDer, privateKeyDer: directOk.keyDer }
    expect(await code(precheckInput(base(d)))).toBe('ok')
    const directNoOu = await ca.issue({ cn: 'ep-1' })
    expect(await code(precheckInput(base({ ...d, certificateDer: directNoOu.certDer, privateKeyDer: directNoOu.keyDer })))).toBe('E_FCC_CN_MISMATCH')
    expect(await code(precheckInput(base({ ...d, firstToClaim: true })))).toBe('E_FCC_FIRST_TO_CLAIM_NOT_ALLOWED')
    expect(await code(precheckInput(base({ ...d, serverUri: 'http://x?aid=1' })))).toBe('E_FCC_URI_WRONG_FORMAT')
    expect(await code(precheckInput(base({ ...d, certificateDer: Buffer.from('3003020101', 'hex') })))).toBe('E_FCC_INVALID_CERTIFICATE')
    expect(await code(precheckInput(base({ ...d, deviceInfo: { ...base().deviceInfo, manufacturer: '' } })))).toBe('E_FCC_EMPTY_ITEM')
    expect(await code(precheckInput(base({ ...d, classId: Buffer.alloc(15) })))).toBe('E_FCC_WRONG_ITEM_DATA_SIZE')
  })

  it('skips certificate checks before on-device key generation', async () => {
    expect(await code(precheckInput(base(), { skipDeviceCredentials: true }))).toBe('ok')
    expect(await code(precheckInput(base()))).toBe('E_FCC_ITEM_NOT_EXIST')
  })

  it('validates UTC offsets like FCC', () => {
    for (const ok of ['+00:00', '+14:00', '-12:00', '+05:30']) expect(isValidUtcOffset(ok)).toBe(true)
    for (const bad of ['+14:01', '-12:30', '02:00', '+2:00', '+02:60']) expect(isValidUtcOffset(bad)).toBe(false)
  })

  it('refuses what FCC cannot carry', () => {
    const cs = { endpoint: 'e', mode: 'direct', security: 'psk', serverUri: 'coaps://x', shortServerId: 1, lifetime: 1, binding: 'U', notificationStoring: false } as const
    expect(() => checkFccCredentials(cs, { onDeviceKey: false })).toThrow(expect.objectContaining({ code: 'E_FCC_SECURITY_UNSUPPORTED' }))
    expect(() => checkFccCredentials({ ...cs, security: 'cert' }, { onDeviceKey: false })).toThrow(expect.objectContaining({ code: 'E_FCC_NO_DEVICE_CERT' }))
    expect(() => checkFccCredentials({ ...cs, security: 'cert' }, { onDeviceKey: true })).not.toThrow()
    expect(() => checkDeviceInfo({ memoryTotalKb: 2 ** 32 })).toThrow(expect.objectContaining({ code: 'E_FCC_WRONG_ITEM_DATA_SIZE' }))
    expect(() => checkDeviceInfo({ memoryTotalKb: 1.5 })).toThrow(expect.objectContaining({ code: 'E_FCC_WRONG_ITEM_DATA_SIZE' }))
    expect(() => checkDeviceInfo({ memoryTotalKb: 512 })).not.toThrow()
  })
})
