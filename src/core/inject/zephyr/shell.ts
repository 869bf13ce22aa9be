/**
 * The Zephyr `lwm2m` shell as text (device-shells.md §1): how values are typed (C escapes inside double quotes, no
 * 0x00), how replies read (hex dumps, error lines), and which resources lwprov writes with which type option. Pure
 * functions, shared by the host protocol and the simulator, pinned to the documentation's examples by unit tests.
 */
import { crc32 } from 'node:zlib'

import { deviceError, usageError } from '../../errors.js'
import type { CredentialSet } from '../../model.js'
import { derToPem } from '../../pki/util.js'
import { SECURITY_MODE } from '../../lwm2m/objects.js'

/** The default Zephyr prompt (`uart:~$ `); other backends name themselves (`rtt:~$ `). */
export const PROMPT = /(?:^|\n|\r)[\w.-]{1,32}:~\$ $/

/** Type options of `lwm2m write` / `lwm2m read`. */
export type ShellType = 's' | 'b' | 'u8' | 'u16' | 'u32' | 'x' | 'crc32'

/** Numeric ranges the device does not check (`-u8 300` reads back 44): checked on the host before writing. */
export const RANGES: Record<'u8' | 'u16' | 'u32', [number, number]> = { u8: [0, 0xff], u16: [0, 0xffff], u32: [0, 0xffffffff] }

/**
 * A value as one shell argument: `"…"` with printable ASCII kept and everything else (and `"`, `\`, `'`) as `\xHH`.
 * The shell passes the argument through `strlen`, so a 0x00 byte cannot be typed: E_SHELL_ZERO_BYTE.
 */
export function quoteShellValue(bytes: Uint8Array, what: string): string {
  let out = '"'
  for (const b of bytes) {
    if (b === 0) {
      throw usageError(
        'E_SHELL_ZERO_BYTE',
        `${what} holds a 0x00 byte, which the Zephyr shell cannot pass (arguments go through strlen).`,
        'Generate the credentials for --protocol zephyr-shell (lwprov then draws PSKs without zero bytes), or use a protocol that carries binary values (mcumgr, lwprov).',
      )
    }
    out += b >= 0x20 && b <= 0x7e && b !== 0x22 && b !== 0x5c && b !== 0x27 ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`
  }
  return `${out}"`
}

/** The inverse of the shell's argument parser for one double-quoted argument (used by the simulator). */
export function unquoteShellArg(arg: string): Buffer {
  const out: number[] = []
  let quoted = false
  for (let i = 0; i < arg.length; i++) {
    const c = arg[i]!
    if (c === '"') {
      quoted = !quoted
      continue
    }
    if (c === '\\' && i + 1 < arg.length) {
      const n = arg[i + 1]!
      if (n === 'x') {
        let j = i + 2
        let hex = ''
        while (j < arg.length && hex.length < 2 && /[0-9a-fA-F]/.test(arg[j]!)) hex += arg[j++]!
        if (hex.length > 0) {
          out.push(parseInt(hex, 16))
          i = j - 1
          continue
        }
      }
      out.push(n.charCodeAt(0))
      i++
      continue
    }
    out.push(c.charCodeAt(0) & 0xff)
  }
  return Buffer.from(out)
}

/** Splits a command line into arguments the way the shell does (spaces outside quotes; quotes kept for unquote). */
export function splitArgs(line: string): string[] {
  const args: string[] = []
  let cur = ''
  let quoted = false
  let any = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (c === '\\' && i + 1 < line.length) {
      cur += c + line[i + 1]!
      any = true
      i++
      continue
    }
    if (c === '"') quoted = !quoted
    if (c === ' ' && !quoted) {
      if (any) args.push(cur)
      cur = ''
      any = false
      continue
    }
    cur += c
    any = true
  }
  if (any) args.push(cur)
  return args
}

/** `00000000: a1 b2 …  |…|` lines → bytes. Offsets must follow each other; anything else is garbage (undefined). */
export function parseHexDump(text: string): Buffer | undefined {
  const bytes: number[] = []
  let lines = 0
  for (const line of text.split(/\r?\n|\r/)) {
    const m = /^([0-9A-Fa-f]{8}): ([^|]*)\|/.exec(line.trim())
    if (!m) continue
    if (parseInt(m[1]!, 16) !== bytes.length) return undefined
    const hex = m[2]!.trim().split(/\s+/).filter(Boolean)
    for (const h of hex) {
      if (!/^[0-9a-fA-F]{2}$/.test(h)) return undefined
      bytes.push(parseInt(h, 16))
    }
    lines++
  }
  return lines === 0 ? undefined : Buffer.from(bytes)
}

/** Zephyr's `shell_hexdump` layout (16 bytes a line, an extra space after 8), for the simulator. */
export function hexDump(data: Uint8Array): string[] {
  const lines: string[] = []
  for (let off = 0; off < data.length; off += 16) {
    const part = data.subarray(off, off + 16)
    let hex = ''
    let asc = ''
    for (let i = 0; i < 16; i++) {
      if (i > 0 && i % 8 === 0) {
        hex += ' '
        asc += ' '
      }
      hex += i < part.length ? `${part[i]!.toString(16).padStart(2, '0')} ` : '   '
      asc += i < part.length ? (part[i]! >= 0x20 && part[i]! < 0x7f ? String.fromCharCode(part[i]!) : '.') : ' '
    }
    lines.push(`${off.toString(16).toUpperCase().padStart(8, '0')}: ${hex}|${asc}|`)
  }
  return lines
}

/** CRC-32 (IEEE) as `lwm2m read … -crc32` reports it. */
export function crc32Of(data: Uint8Array): number {
  return crc32(Buffer.from(data)) >>> 0
}

/** A shell error reply, recognised in the output of one command; undefined when the command succeeded. */
export interface ShellFailure {
  kind: 'no-context' | 'errno' | 'usage' | 'type' | 'number' | 'not-found' | 'create'
  errno?: number
  line: string
}

export function shellFailure(output: string): ShellFailure | undefined {
  for (const raw of output.split(/\r?\n|\r/)) {
    const line = raw.trim()
    if (line === '') continue
    if (/no lwm2m context yet/i.test(line)) return { kind: 'no-context', line }
    let m = /request failed \(err (-?\d+)\)/.exec(line)
    if (m) return { kind: 'errno', errno: Number(m[1]), line }
    m = /Failed to create object instance .*ret=(-?\d+)/.exec(line)
    if (m) return { kind: 'create', errno: Number(m[1]), line }
    if (/wrong parameter count/i.test(line)) return { kind: 'usage', line }
    if (/can't recognize data type/i.test(line)) return { kind: 'type', line }
    if (/^Invalid number/i.test(line)) return { kind: 'number', line }
    if (/command not found/i.test(line)) return { kind: 'not-found', line }
  }
  return undefined
}

const ERRNO: Record<number, string> = { [-2]: 'no such object, instance or resource', [-13]: 'the resource is read-only', [-22]: 'invalid path or value', [-12]: 'no free instance', [-17]: 'already exists', [-115]: 'the LwM2M client is busy (stopping or running)', [-28]: 'the value does not fit the resource' }

export function errnoText(n: number | undefined): string {
  return n === undefined ? 'error' : `${ERRNO[n] ?? 'error'} (err ${n})`
}

/** One resource write of the plan; `value` is what the read-back must return. */
export interface ShellWrite {
  path: string
  type: 's' | 'b' | 'u8' | 'u16' | 'u32'
  /** Opaque resources: the exact bytes; strings: UTF-8 text; numbers/bools as numbers. */
  value: Buffer | number
  /** The value is opaque (read back as a hex dump or CRC-32), not a string. */
  opaque?: boolean
  secret?: boolean
}

/** Security instance 0 and Server instance 0: the layout of Zephyr's own samples and interop tests. */
export const SECURITY_IID = 0
export const SERVER_IID = 0

const pem = (der: Uint8Array, label: string): Buffer => Buffer.from(derToPem(der, label), 'utf8')

/**
 * The resource writes for one credential set. Certificates and keys go as PEM (DER always holds zero bytes, and
 * Zephyr's mbed TLS loader takes PEM); a PSK goes as raw bytes, which must have no 0x00.
 */
export function shellWrites(c: CredentialSet): ShellWrite[] {
  const s = `0/${SECURITY_IID}`
  const bootstrap = c.mode === 'bootstrap'
  const w: ShellWrite[] = [
    { path: `${s}/0`, type: 's', value: Buffer.from(c.serverUri, 'utf8') },
    { path: `${s}/1`, type: 'b', value: bootstrap ? 1 : 0 },
    { path: `${s}/2`, type: 'u8', value: SECURITY_MODE[c.security] },
  ]
  switch (c.security) {
    case 'psk':
      w.push({ path: `${s}/3`, type: 's', value: Buffer.from(c.pskIdentity ?? c.endpoint, 'utf8'), opaque: true })
      w.push({ path: `${s}/5`, type: 's', value: Buffer.from(c.psk ?? []), opaque: true, secret: true })
      break
    case 'cert':
      if (!c.certificateDer) throw usageError('E_LWM2M_CONFIG_INVALID', `No device certificate for ${c.endpoint}.`, 'Issue the certificate first (--ca DIR).')
      if (!c.privateKeyDer) {
        throw usageError('E_SHELL_NO_KEYGEN', 'The Zephyr lwm2m shell cannot generate a key on the device.', 'Drop --device-keygen: lwprov generates the key and writes it to /0/0/5.')
      }
      w.push({ path: `${s}/3`, type: 's', value: pem(c.certificateDer, 'CERTIFICATE'), opaque: true })
      if (c.serverCaDer) w.push({ path: `${s}/4`, type: 's', value: pem(c.serverCaDer, 'CERTIFICATE'), opaque: true })
      w.push({ path: `${s}/5`, type: 's', value: pem(c.privateKeyDer, 'PRIVATE KEY'), opaque: true, secret: true })
      break
    case 'nosec':
      break
    default:
      throw usageError('E_SECURITY_UNSUPPORTED', `Security mode ${c.security} is not supported over the Zephyr shell.`, 'Use --security psk or cert.')
  }
  if (!bootstrap) {
    w.push({ path: `${s}/10`, type: 'u16', value: c.shortServerId })
    if (c.security === 'cert' && c.serverCaDer) w.push({ path: `${s}/15`, type: 'u8', value: c.certificateUsage ?? 2 })
    const v = `1/${SERVER_IID}`
    w.push({ path: `${v}/0`, type: 'u16', value: c.shortServerId })
    w.push({ path: `${v}/1`, type: 'u32', value: c.lifetime })
    w.push({ path: `${v}/6`, type: 'b', value: c.notificationStoring ? 1 : 0 })
    w.push({ path: `${v}/7`, type: 's', value: Buffer.from(c.binding, 'utf8') })
  } else if (c.security === 'cert' && c.serverCaDer) {
    w.push({ path: `${s}/15`, type: 'u8', value: c.certificateUsage ?? 2 })
  }
  return w
}

/** Host-side range check of a numeric write (the device would silently truncate). */
export function checkRange(w: ShellWrite): void {
  if (typeof w.value !== 'number' || w.type === 's') return
  const [lo, hi] = w.type === 'b' ? [0, 1] : RANGES[w.type]
  if (!Number.isInteger(w.value) || w.value < lo || w.value > hi) {
    throw usageError('E_SHELL_VALUE_RANGE', `${w.value} does not fit ${w.path} (-${w.type}: ${lo}..${hi}); the device would store it truncated.`, 'Fix the value (e.g. --lifetime, --short-server-id) and re-run.')
  }
}

/** The command line of one write. */
export function writeCommand(w: ShellWrite): string {
  const v = typeof w.value === 'number' ? String(w.value) : quoteShellValue(w.value, `${w.path}`)
  return `lwm2m write ${w.path} -${w.type} ${v}`
}

/** A device reply that names the shell problem for the user (escaped by the caller). */
export function shellError(path: string, f: ShellFailure, link: string) {
  if (f.kind === 'no-context') {
    return deviceError('E_SHELL_NO_CONTEXT', `${link}: the lwm2m shell answers "no lwm2m context yet" (the application has not created its LwM2M client).`, 'Let the firmware finish booting (it creates the RD client context at start-up), then retry.')
  }
  return deviceError('E_SHELL_COMMAND_FAILED', `${link}: ${path}: ${f.kind === 'errno' || f.kind === 'create' ? errnoText(f.errno) : f.kind === 'not-found' ? 'the lwm2m shell is not in this firmware' : 'the shell rejected the command'}: ${f.line}`, f.kind === 'not-found' ? 'Build the firmware with CONFIG_LWM2M_SHELL=y (docs/zephyr-shell.md).' : 'Check the firmware\'s Security/Server object configuration (docs/zephyr-shell.md).')
}
