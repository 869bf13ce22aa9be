/**
 * The field-device codecs against the replies and examples of shared/docs/device-shells.md, and the simulators
 * pinned to the same examples (so the docs, the host parsers and the simulators cannot drift apart).
 */
import 'reflect-metadata'

import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'

import { Pkcs10CertificateRequest } from '@peculiar/x509'

import { AutoProtocol } from '../../../src/core/inject/auto.js'
import { stripAnsi } from '../../../src/core/inject/console/line-console.js'
import { Cmd, FrameReader, Group, MAX_LINE, Op, body, crc16, decodePacket, encodeFrames, encodePacket, McumgrSim, newSmpNv } from '../../../src/core/inject/mcumgr/index.js'
import { CredType, Modem, cmngDigest, crlf, imeiOf, modemVersion, atLeast, newModemNv, normalizeEcdsaCsr, parseAtReply, parseCmngList, parseKeygen, shellWrap, withNullParams } from '../../../src/core/inject/nrf/index.js'
import { ZephyrShellSim, checkRange, crc32Of, hexDump, newZephyrNv, parseHexDump, quoteShellValue, shellFailure, splitArgs, unquoteShellArg, withoutZeroBytes, writeCommand } from '../../../src/core/inject/zephyr/index.js'
import { ZephyrShellProtocol } from '../../../src/core/inject/zephyr/protocol.js'

/** Drives a shell simulator in process: type a line, get what it printed (ANSI stripped) up to the next prompt. */
function shell(sim: { receive(b: Buffer): void; onSend(cb: (b: Buffer) => void): void }) {
  let out = ''
  sim.onSend((b) => (out += b.toString('latin1')))
  return {
    raw: () => out,
    async type(line: string): Promise<string> {
      out = ''
      sim.receive(Buffer.from(`${line}\r\n`, 'latin1'))
      for (let i = 0; i < 100 && !/uart:~\$ (\x1b\[0m)?$/.test(out); i++) await new Promise((r) => setTimeout(r, 5))
      const text = stripAnsi(out)
      return text.slice(text.indexOf('\n') + 1).replace(/uart:~\$ $/, '')
    },
  }
}

describe('zephyr-shell codec (device-shells.md §1.1)', () => {
  it('binary values go in as C escapes inside double quotes; 0x00 is refused', () => {
    expect(quoteShellValue(Buffer.from([0xa1, 0xb2, 0x90]), 'psk')).toBe('"\\xa1\\xb2\\x90"')
    expect(quoteShellValue(Buffer.from('-----BEGIN X-----\nAB\n'), 'pem')).toBe('"-----BEGIN X-----\\x0aAB\\x0a"')
    expect(quoteShellValue(Buffer.from('a"b\\c\'d'), 'v')).toBe('"a\\x22b\\x5cc\\x27d"')
    expect(() => quoteShellValue(Buffer.from([1, 0, 2]), 'The PSK')).toThrowError(expect.objectContaining({ code: 'E_SHELL_ZERO_BYTE', exitCode: 2 }))
    const all = Buffer.from(Array.from({ length: 255 }, (_, i) => i + 1))
    expect(unquoteShellArg(quoteShellValue(all, 'v'))).toEqual(all)
  })

  it('the write lines of the interop-test sequence', () => {
    expect(writeCommand({ path: '0/0/1', type: 'b', value: 0 })).toBe('lwm2m write 0/0/1 -b 0')
    expect(writeCommand({ path: '0/0/2', type: 'u8', value: 3 })).toBe('lwm2m write 0/0/2 -u8 3')
    expect(writeCommand({ path: '1/0/1', type: 'u32', value: 86400 })).toBe('lwm2m write 1/0/1 -u32 86400')
    expect(splitArgs('lwm2m write 0/0/0 -s "a b\\"c"')).toEqual(['lwm2m', 'write', '0/0/0', '-s', '"a b\\"c"'])
  })

  it('numbers are range-checked on the host (the device stores -u8 300 as 44)', () => {
    expect(() => checkRange({ path: '0/0/2', type: 'u8', value: 300 })).toThrowError(expect.objectContaining({ code: 'E_SHELL_VALUE_RANGE' }))
    expect(() => checkRange({ path: '1/0/0', type: 'u16', value: -1 })).toThrowError(expect.objectContaining({ code: 'E_SHELL_VALUE_RANGE' }))
    expect(() => checkRange({ path: '1/0/1', type: 'u32', value: 86400 })).not.toThrow()
  })

  it('hex dumps parse as the documented `00000000: a1 b2 c3 d4 …  |…|` lines', () => {
    expect(parseHexDump('00000000: a1 b2 c3 d4                                      |....            |\r\n')).toEqual(Buffer.from([0xa1, 0xb2, 0xc3, 0xd4]))
    const data = Buffer.from(Array.from({ length: 40 }, (_, i) => (i * 37) & 0xff))
    expect(parseHexDump(hexDump(data).join('\r\n'))).toEqual(data)
    // a missing line (offsets jump) is garbage, not a shorter value
    const lines = hexDump(data)
    expect(parseHexDump([lines[0], lines[2]].join('\n'))).toBeUndefined()
  })

  it('recognises the documented error replies', () => {
    expect(shellFailure("can't do write operation, request failed (err -2)")).toMatchObject({ kind: 'errno', errno: -2 })
    expect(shellFailure("can't do write operation, request failed (err -13)")).toMatchObject({ kind: 'errno', errno: -13 })
    expect(shellFailure('write: wrong parameter count')).toMatchObject({ kind: 'usage' })
    expect(shellFailure("can't recognize data type -q")).toMatchObject({ kind: 'type' })
    expect(shellFailure('Invalid number: abc')).toMatchObject({ kind: 'number' })
    expect(shellFailure('Failed to create object instance 0/1, ret=-17')).toMatchObject({ kind: 'create', errno: -17 })
    expect(shellFailure('no lwm2m context yet')).toMatchObject({ kind: 'no-context' })
    expect(shellFailure('00000000: 30 31  |01|')).toBeUndefined()
  })

  it('PSKs for the shell are drawn without zero bytes; others keep their bytes', () => {
    let n = 0
    const random = (k: number) => Buffer.alloc(k, (n++ % 2) === 0 ? 0 : 0x5a)
    const out = withoutZeroBytes(Buffer.from([0, 7, 0, 9]), random)
    expect([...out]).toEqual([0x5a, 7, 0x5a, 9])
    const p = new ZephyrShellProtocol()
    const cs = p.prepareCredentials({ endpoint: 'e', mode: 'direct', security: 'psk', serverUri: 'coaps://h:5684', psk: Buffer.alloc(16), shortServerId: 1, lifetime: 60, binding: 'U', notificationStoring: false }, () => Buffer.from([0x11]))
    expect(Buffer.from(cs.psk!).includes(0)).toBe(false)
    // auto may land on a shell: its PSKs are drawn the same way
    const auto = new AutoProtocol((name) => (name === 'zephyr-shell' ? p : p))
    expect(Buffer.from(auto.prepareCredentials({ ...cs, psk: Buffer.alloc(16) }, () => Buffer.from([0x22])).psk!).includes(0)).toBe(false)
  })
})

describe('untrusted device text', () => {
  it('reaches messages escaped: a hostile reply line cannot drive the terminal', async () => {
    const { shellError } = await import('../../../src/core/inject/zephyr/shell.js')
    const { shown } = await import('../../../src/core/validate/escape.js')
    const f = shellFailure("can't do write operation, request failed (err -2)\x1b]0;pwned\x07")!
    const err = shellError('0/0/0', { ...f, line: shown(f.line) }, '/dev/ttyACM0')
    expect(err.message).not.toMatch(/[\x00-\x1f]/)
    expect(err.message).toContain('\\x1b')
  })
})

describe('zephyr-shell simulator pinned to the documented behaviour', () => {
  const boot = (o: Record<string, unknown> = {}) => {
    const sim = new ZephyrShellSim({ serial: 'PIN-1', nv: newZephyrNv(), banner: false, ...o })
    return { sim, sh: shell(sim) }
  }

  it('colours are on until `shell colors off`; each line is echoed', async () => {
    const { sh } = boot()
    await sh.type('lwm2m read 0/0/2 -u8')
    expect(sh.raw()).toContain('\x1b[')
    expect(sh.raw().startsWith('lwm2m read 0/0/2 -u8')).toBe(true)
    await sh.type('shell colors off')
    await sh.type('lwm2m read 0/0/2 -u8')
    expect(sh.raw()).not.toContain('\x1b[')
  })

  it('numeric writes are not range-checked: -u8 300 reads back 44, -u8 -1 255', async () => {
    const { sh } = boot()
    await sh.type('lwm2m write 0/0/2 -u8 300')
    expect((await sh.type('lwm2m read 0/0/2 -u8')).trim()).toBe('44')
    await sh.type('lwm2m write 0/0/2 -u8 -1')
    expect((await sh.type('lwm2m read 0/0/2 -u8')).trim()).toBe('255')
  })

  it('replies as documented: -s default, leading /, err -2/-13/-22, create -17/-12, wrong parameter count', async () => {
    const { sh } = boot()
    expect(await sh.type('lwm2m write 0/0/0 coap://127.0.0.1:5683')).toBe('')
    expect((await sh.type('lwm2m read /0/0/0 -s')).trim()).toBe('coap://127.0.0.1:5683')
    expect(await sh.type('lwm2m write 0/0/99 -s x')).toContain('request failed (err -2)')
    expect(await sh.type('lwm2m write 3/0/2 -s x')).toContain('request failed (err -13)')
    expect(await sh.type('lwm2m read 0/0')).toContain('(err -22)')
    expect(await sh.type('lwm2m write 0/0/2 -q 1')).toContain("can't recognize data type -q")
    expect(await sh.type('lwm2m write 0/0/2 -u8 abc')).toContain('Invalid number: abc')
    expect(await sh.type('lwm2m write')).toContain('write: wrong parameter count')
    expect(await sh.type('lwm2m create 0/0')).toContain('Failed to create object instance 0/0, ret=-17')
    expect(await sh.type('lwm2m create 0/1')).toBe('')
    expect(await sh.type('lwm2m create 0/2')).toContain('ret=-12')
  })

  it('binary values written with escapes read back as a hex dump and a CRC-32', async () => {
    const { sh } = boot()
    const key = Buffer.from('a1b2c3d4e5f60718293a4b5c6d7e8f90', 'hex')
    await sh.type(`lwm2m write 0/0/5 -s ${quoteShellValue(key, 'k')}`)
    expect(parseHexDump(await sh.type('lwm2m read 0/0/5 -x'))).toEqual(key)
    expect(Number((await sh.type('lwm2m read 0/0/5 -crc32')).trim())).toBe(crc32Of(key))
  })

  it('no lwm2m context yet until the application started; stop is asynchronous (start → err -115)', async () => {
    const { sh } = boot({ contextDelayMs: 60_000 })
    expect(await sh.type('lwm2m read 0/0/0 -s')).toContain('no lwm2m context yet')
    const b = boot({ stopMs: 60_000 })
    expect(await b.sh.type('lwm2m start ep -b 0')).toBe('')
    expect(await b.sh.type('lwm2m stop')).toBe('')
    expect(await b.sh.type('lwm2m start ep -b 0')).toContain('(err -115)')
  })
})

describe('the TLS credentials shell of the zephyr-shell simulator (device-shells.md §2)', () => {
  it('answers as documented: Stored / Added, the list digest = base64(SHA-256(stored bytes)), errors', async () => {
    const sim = new ZephyrShellSim({ serial: 'CRED-1', nv: newZephyrNv(), banner: false })
    const sh = shell(sim)
    await sh.type('shell colors off')
    const added = await sh.type('cred add 5 PSK default bin AAECAwQFBgcICQoLDA0ODw==')
    expect(added).toContain('Stored 24 bytes.')
    expect(added).toContain('Added TLS credential of type PRE_SHARED_KEY, sectag 5, and length 16 bytes.')
    const psk = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex')
    const list = await sh.type('cred list')
    expect(list).toContain(`5,PSK,${createHash('sha256').update(psk).digest('base64')},0`)
    expect(list).toContain('1 credentials found.')
    expect(await sh.type('cred add 5 PSK default bin AAECAwQFBgcICQoLDA0ODw==')).toContain('TLS credential with sectag 5 and type PRE_SHARED_KEY already exists.')
    expect(await sh.type('cred add 5 FOO default bin AAAA')).toContain('FOO is not a valid credential type.')
    expect(await sh.type('cred add 6 PSK default bin @@@')).toContain('Could not decode input from base64, error: -22')
    // PEM goes in 48-character base64 chunks through the buffer, as bint (NUL-terminated): digest over PEM + NUL
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'
    const b64 = Buffer.from(pem).toString('base64')
    await sh.type('cred buf clear')
    for (let i = 0; i < b64.length; i += 48) expect(await sh.type(`cred buf ${b64.slice(i, i + 48)}`)).toContain('Stored')
    expect(await sh.type('cred add 7 CA default bint')).toContain('Added TLS credential of type CA_CERT, sectag 7')
    expect(await sh.type('cred list 7 CA')).toContain(`7,CA,${createHash('sha256').update(Buffer.concat([Buffer.from(pem), Buffer.from([0])])).digest('base64')},0`)
    expect(await sh.type('cred del 5 PSK')).toContain('Deleted TLS credential with sectag 5 and type PRE_SHARED_KEY.')
    expect(await sh.type('cred del 5 PSK')).toContain('There is no TLS credential with sectag 5 and type PRE_SHARED_KEY.')
  })
})

describe('nrf-at codec (device-shells.md §3)', () => {
  it('final result codes and CME errors', () => {
    expect(parseAtReply('\r\n+CME ERROR: 519\r\n')).toEqual({ ok: false, cme: 519, lines: [] })
    expect(parseAtReply('352656100367872\r\nOK\r\n')).toEqual({ ok: true, lines: ['352656100367872'] })
    expect(parseAtReply('ERROR\r\n')).toMatchObject({ ok: false })
    expect(parseAtReply('352656100367872\r\n')).toBeUndefined()
  })

  it('IMEI is the first 15 characters of the last line; modem firmware gate', () => {
    expect(imeiOf({ ok: true, lines: ['352656100367872'] })).toBe('352656100367872')
    expect(imeiOf({ ok: true, lines: ['hello'] })).toBeUndefined()
    const v = modemVersion('mfw_nrf9160_1.3.2')
    expect(v.version).toEqual([1, 3, 2])
    expect(atLeast(v.version!, [1, 3, 2])).toBe(true)
    expect(atLeast(modemVersion('mfw_nrf9160_1.3.1').version!, [1, 3, 2])).toBe(false)
    expect(modemVersion('mfw_nrf9151-ntn_0.1.0').ntn).toBe(true)
  })

  it('%CMNG lists, digests of the CRLF text, shell wrapping', () => {
    const list = parseCmngList(['%CMNG: 16842753,0,"2C43952EE9E000FF2ACC4E2ED0897C0A72AD5FA72C3D934E81741CBD54F05BD1"', '%CMNG: 16842753,2', '%CMNG: 1,3,"00"'], 16842753)
    expect(list.get(0)).toBe('2C43952EE9E000FF2ACC4E2ED0897C0A72AD5FA72C3D934E81741CBD54F05BD1')
    expect(list.get(2)).toBe('')
    expect(list.has(3)).toBe(false)
    expect(crlf('a\nb\r\nc\n')).toBe('a\r\nb\r\nc\r\n')
    expect(cmngDigest('abc')).toBe(createHash('sha256').update('abc').digest('hex').toUpperCase())
    expect(shellWrap('AT%CMNG=0,1,0,"-----BEGIN\r\nX\r\n"')).toBe("at 'AT%CMNG=0,1,0,\"-----BEGIN\\nX\\n\"'")
  })

  it('the modem CSR (NULL parameters) is normalised into one a strict parser accepts, signature intact', async () => {
    const modem = new Modem({ serial: 'M1', nv: newModemNv() })
    await modem.handle('AT+CFUN=4')
    const r = await modem.handle('AT%KEYGEN=42,2,0,"CN=ep-1"')
    const csr = parseKeygen(r)!
    expect(csr.includes(Buffer.from([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02, 0x05, 0x00]))).toBe(true)
    const norm = normalizeEcdsaCsr(csr)
    expect(norm.length).toBe(csr.length - 2)
    expect(withNullParams(norm)).toEqual(csr)
    const req = new Pkcs10CertificateRequest(norm)
    expect(req.subjectName.getField('CN')[0]).toBe('ep-1')
    expect(await req.verify()).toBe(true)
  })

  it('the simulated modem: CME 518 while online, 519 on an existing credential, digest of the text', async () => {
    const modem = new Modem({ serial: 'M2', nv: newModemNv() })
    await modem.handle('AT+CMEE=1')
    expect(await modem.handle('AT%CMNG=0,7,4,"ep"')).toEqual(['+CME ERROR: 518'])
    await modem.handle('AT+CFUN=4')
    expect(await modem.handle('AT%CMNG=0,7,4,"ep"')).toEqual(['OK'])
    expect(await modem.handle('AT%CMNG=0,7,4,"ep"')).toEqual(['+CME ERROR: 519'])
    expect(parseCmngList(await modem.handle('AT%CMNG=1,7'), 7).get(CredType.PSK_ID)).toBe(cmngDigest('ep'))
    expect(await modem.handle('AT%CMNG=3,7,4')).toEqual(['OK'])
    expect(await modem.handle('AT%CMNG=3,7,4')).toEqual(['+CME ERROR: 513'])
  })
})

describe('mcumgr SMP serial framing (device-shells.md §5)', () => {
  it('CRC16-XMODEM check value', () => {
    expect(crc16(Buffer.from('123456789'))).toBe(0x31c3)
  })

  it('frames 06 09 then 04 14, base64 lines of at most 127 bytes; a reader reassembles the packet', () => {
    const packet = encodePacket({ op: Op.WRITE, group: Group.FS, seq: 7, id: Cmd.FILE, body: body({ off: 0, data: Buffer.alloc(300, 0xab), len: 300, name: '/factory/provision.cbor' }) })
    const frames = encodeFrames(packet)
    const lines = frames.toString('latin1').split('\n').slice(0, -1)
    expect(lines.length).toBeGreaterThan(2)
    expect(lines[0]!.slice(0, 2)).toBe('\x06\x09')
    for (const l of lines.slice(1)) expect(l.slice(0, 2)).toBe('\x04\x14')
    for (const l of lines) expect(l.length + 1).toBeLessThanOrEqual(MAX_LINE)
    const got: Buffer[] = []
    const text: string[] = []
    const r = new FrameReader((p) => got.push(p), (t) => text.push(t.toString('latin1')))
    // split anywhere, with shell text in between packets
    r.push(Buffer.from('uart:~$ '))
    for (let i = 0; i < frames.length; i += 17) r.push(frames.subarray(i, i + 17))
    expect(got).toHaveLength(1)
    expect(decodePacket(got[0]!)).toMatchObject({ op: Op.WRITE, group: Group.FS, seq: 7, id: Cmd.FILE })
    expect(text.join('')).toBe('uart:~$ ')
    // one flipped bit: the CRC drops the packet
    const bad = Buffer.from(frames)
    bad[5] = bad[5] === 0x41 ? 0x42 : 0x41
    const none: Buffer[] = []
    new FrameReader((p) => none.push(p)).push(bad)
    expect(none).toHaveLength(0)
  })

  it('OS echo answers {"r": "hello"} (the simulator, through frames)', () => {
    const sim = new McumgrSim({ serial: 'S1', nv: newSmpNv(), banner: false })
    const out: Buffer[] = []
    sim.onSend((b) => out.push(b))
    sim.receive(encodeFrames(encodePacket({ op: Op.WRITE, group: Group.OS, seq: 1, id: Cmd.ECHO, body: body({ d: 'hello' }) })))
    const got: Buffer[] = []
    new FrameReader((p) => got.push(p)).push(Buffer.concat(out))
    const rsp = decodePacket(got[0]!)
    expect(rsp).toMatchObject({ op: Op.WRITE_RSP, group: Group.OS, seq: 1, id: Cmd.ECHO })
    expect(rsp.body.get('r')).toBe('hello')
  })
})
