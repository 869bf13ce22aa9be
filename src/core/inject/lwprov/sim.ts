/**
 * A simulated lwprov device: the device side of docs/protocol.md as pure logic (bytes in, bytes out, no I/O), so
 * unit tests and `lwprov sim` can exercise the host protocol against something that behaves like real firmware,
 * including the log lines firmware prints on the same line between frames.
 */
import { KeyObject, createHash, createHmac, randomBytes, webcrypto } from 'node:crypto'
import { decodeSenmlCbor } from '../../lwm2m/senml.js'
import { SECURITY_MODE } from '../../lwm2m/objects.js'
import { FRAME_VERSION, FrameScanner, FrameType, MAX_PAYLOAD, PROTOCOL_VERSION, encodeFrame, type Frame } from './codec.js'
import {
  BeginFlag,
  Capability,
  DeviceErrorCode,
  KeyType,
  MessageError,
  NakReason,
  PayloadFormat,
  ProofKind,
  decodeBegin,
  decodeChallenge,
  decodeCsrRead,
  decodeHostHelloVersion,
  encodeProof,
  proofMessage,
  decodeData,
  decodeKeygen,
  encodeAck,
  encodeCsrData,
  encodeDeviceHello,
  encodeDigest,
  encodeError,
  encodeU16,
  encodeU32,
  type Begin,
} from './messages.js'
import { computeProof } from './proof.js'

/** Options of {@link LwprovSimDevice} (the simulated-device contract shared by all protocols). */
export interface LwprovSimOptions {
  /** Serial number the device reports in HELLO. */
  serial: string
  /** Refuse every COMMIT with an ERROR frame (REFUSED), as firmware does when its LwM2M stack rejects the payload. */
  refuse?: boolean
  /** Report a wrong read-back digest. */
  corruptDigest?: boolean
  /** Called with the committed payload (the bytes a real device writes to flash). */
  store?: (bytes: Buffer) => void
  /** Called with each log line the device prints (also sent on the link between frames). */
  log?: (line: string) => void
  /** IMEI to report. */
  imei?: string
  /** MAC address to report. */
  mac?: string
  /** Largest frame payload the device accepts; default 1024. */
  maxFrame?: number
  /** Largest payload the device can store; default 16384. */
  capacity?: number
  /** Offer on-device key generation; default true. */
  keygen?: boolean
  /** Highest protocol version the device speaks: 2 (default, answers CHALLENGE) or 1 (an old receiver). */
  protocolVersion?: number
  /**
   * A lying device (`--fault liar`): acknowledges everything, stores nothing, echoes the BEGIN digest as its
   * read-back and answers CHALLENGE with an HMAC keyed by the digest it was sent (`true`) or random bytes
   * (`'garbage'`): something computed from the sent bytes, never from a stored key.
   */
  liar?: boolean | 'garbage'
}

interface Staging {
  begin: Begin
  data: Buffer[]
  received: number
}

/**
 * Simulated device. Wire `onSend` to the link's write side and feed received bytes to `receive`. Committed data
 * survives `reset()` (it models flash); staged data and a pending generated key do not.
 */
export class LwprovSimDevice {
  private readonly opts: LwprovSimOptions
  private readonly scanner = new FrameScanner()
  private readonly listeners: ((bytes: Buffer) => void)[] = []
  private readonly started = Date.now()
  private inSession = false
  private staging: Staging | undefined
  private stored: Buffer | undefined
  private key: { csr: Buffer; generated: boolean; privateKey: KeyObject } | undefined
  /** The generated key bound to the stored configuration (flash / secure element); survives reset(). */
  private storedKey: KeyObject | undefined
  /** Session version negotiated by the last HELLO. */
  private version = 1
  /** Liar: what BEGIN announced (echoed as the read-back). */
  private announced: Begin | undefined
  private last: { seq: number; type: number; response: Buffer } | undefined
  /** Bumped by reset() so answers computed before a reboot (async keygen) are dropped. */
  private epoch = 0

  constructor(opts: LwprovSimOptions) {
    this.opts = opts
  }

  /** The committed payload, if any. */
  get storedPayload(): Buffer | undefined {
    return this.stored
  }

  onSend(cb: (bytes: Buffer) => void): void {
    this.listeners.push(cb)
  }

  receive(chunk: Buffer): void {
    for (const ev of this.scanner.push(chunk)) {
      if (ev.kind === 'frame') this.handleSafely(ev.frame)
      else if (ev.kind === 'corrupt') {
        // Only a frame whose header survived names a sequence number worth NAKing; a broken header may be noise.
        if (ev.reason === 'crc') this.send(FrameType.NAK, ev.seq ?? 0, Buffer.from([NakReason.crc]), false)
      }
    }
  }

  /** A malformed request payload is answered BAD_MESSAGE, as firmware does; it never takes the simulator down. */
  private handleSafely(f: Frame): void {
    try {
      this.handle(f)
    } catch (e) {
      if (!(e instanceof MessageError)) throw e
      this.log(`lwprov: error ${DeviceErrorCode.BAD_MESSAGE}: ${e.message}`)
      this.reply(f, FrameType.ERROR, encodeError(DeviceErrorCode.BAD_MESSAGE, e.message))
    }
  }

  /** Reboot: drop staged state and a pending key, print the boot banner and announce with a BOOT frame. */
  reset(): void {
    this.epoch++
    this.inSession = false
    this.staging = undefined
    this.key = undefined
    this.last = undefined
    this.scanner.reset()
    this.log('')
    this.log(`*** Booting lwprov-sim v1.0 (serial ${this.opts.serial}) ***`)
    this.log('lwprov: factory provisioning receiver ready')
    this.emit(encodeFrame({ type: FrameType.BOOT, seq: 0, payload: this.hello() }))
  }

  private get maxVersion(): number {
    return Math.max(1, Math.min(this.opts.protocolVersion ?? PROTOCOL_VERSION, PROTOCOL_VERSION))
  }

  private hello(version = this.maxVersion): Buffer {
    const caps = Capability.senmlCbor | Capability.tlv | (this.opts.keygen === false ? 0 : Capability.keygen)
    return encodeDeviceHello({
      version,
      maxFrame: Math.min(this.opts.maxFrame ?? 1024, MAX_PAYLOAD),
      capabilities: caps,
      capacity: this.opts.capacity ?? 16384,
      serial: this.opts.serial,
      ...(this.opts.imei === undefined ? {} : { imei: this.opts.imei }),
      ...(this.opts.mac === undefined ? {} : { mac: this.opts.mac }),
      model: 'lwprov-sim',
      firmware: '1.0.0',
    })
  }

  private handle(f: Frame): void {
    if (f.version !== FRAME_VERSION) {
      this.send(FrameType.ERROR, f.seq, encodeError(DeviceErrorCode.VERSION, `frame version ${f.version} not supported`))
      return
    }
    // A repeated request (the host missed our answer) gets the same answer again, never a second execution.
    if (f.type !== FrameType.HELLO && this.last && this.last.seq === f.seq && this.last.type === f.type) {
      this.emit(this.last.response)
      return
    }
    const remember = (type: number, payload: Buffer) => this.reply(f, type, payload)
    const fail = (code: number, text: string) => {
      this.log(`lwprov: error ${code}: ${text}`)
      remember(FrameType.ERROR, encodeError(code, text))
    }
    if (f.type === FrameType.HELLO) {
      this.inSession = true
      this.staging = undefined
      this.key = undefined
      // The session speaks the lower of what the host offers and what this device knows.
      this.version = Math.max(1, Math.min(decodeHostHelloVersion(f.payload), this.maxVersion))
      this.log(`lwprov: session started (protocol v${this.version})`)
      remember(FrameType.IDENTITY, this.hello(this.version))
      return
    }
    if (!this.inSession) return fail(DeviceErrorCode.BAD_STATE, 'no session: send HELLO first')
    if (this.opts.liar && this.lie(f, remember)) return
    switch (f.type) {
      case FrameType.KEYGEN: {
        if (this.opts.keygen === false) return fail(DeviceErrorCode.UNSUPPORTED, 'key generation not supported')
        const { keyType, commonName } = decodeKeygen(f.payload)
        if (keyType !== KeyType.ecP256) return fail(DeviceErrorCode.UNSUPPORTED, `key type ${keyType} not supported`)
        this.log(`lwprov: generating EC P-256 key for CN=${commonName}`)
        const epoch = this.epoch
        makeCsr(commonName).then(
          ({ csr, privateKey }) => {
            if (epoch !== this.epoch) return
            this.key = { csr, generated: true, privateKey }
            this.log(`lwprov: CSR ready (${csr.length} bytes)`)
            remember(FrameType.ACK, encodeAck(FrameType.KEYGEN, encodeU16(csr.length)))
          },
          (e: unknown) => {
            if (epoch === this.epoch) fail(DeviceErrorCode.KEYGEN_FAILED, `key generation failed: ${String(e)}`)
          },
        )
        return
      }
      case FrameType.CSR_READ: {
        if (!this.key) return fail(DeviceErrorCode.BAD_STATE, 'no CSR: send KEYGEN first')
        const { offset, length } = decodeCsrRead(f.payload)
        const max = Math.min(this.opts.maxFrame ?? 1024, MAX_PAYLOAD) - 2
        const chunk = this.key.csr.subarray(offset, offset + Math.min(length, max))
        remember(FrameType.CSR_DATA, encodeCsrData(offset, chunk))
        return
      }
      case FrameType.BEGIN: {
        const begin = decodeBegin(f.payload)
        if (begin.format !== PayloadFormat.senmlCbor && begin.format !== PayloadFormat.tlv) {
          return fail(DeviceErrorCode.UNSUPPORTED, `payload format ${begin.format} not supported`)
        }
        if (begin.total > (this.opts.capacity ?? 16384)) return fail(DeviceErrorCode.TOO_LARGE, `payload of ${begin.total} bytes exceeds storage`)
        if (begin.flags & BeginFlag.useGeneratedKey && !this.key) return fail(DeviceErrorCode.BAD_STATE, 'no generated key in this session')
        this.staging = { begin, data: [], received: 0 }
                remember(FrameType.ACK, encodeAck(FrameType.BEGIN))
        return
      }
      case FrameType.DATA: {
        const st = this.staging
        if (!st) return fail(DeviceErrorCode.BAD_STATE, 'DATA before BEGIN')
        const { offset, chunk } = decodeData(f.payload)
        if (offset !== st.received) return fail(DeviceErrorCode.BAD_OFFSET, `DATA at ${offset}, expected ${st.received}`)
        if (st.received + chunk.length > st.begin.total) return fail(DeviceErrorCode.TOO_LARGE, 'DATA beyond the announced size')
        st.data.push(Buffer.from(chunk))
        st.received += chunk.length
        remember(FrameType.ACK, encodeAck(FrameType.DATA, encodeU32(st.received)))
        return
      }
      case FrameType.COMMIT: {
        const st = this.staging
        if (!st) return fail(DeviceErrorCode.BAD_STATE, 'COMMIT before BEGIN')
        if (st.received !== st.begin.total) return fail(DeviceErrorCode.BAD_STATE, `COMMIT after ${st.received} of ${st.begin.total} bytes`)
        const payload = Buffer.concat(st.data)
        if (!createHash('sha256').update(payload).digest().equals(st.begin.sha256)) {
          this.staging = undefined
          return fail(DeviceErrorCode.DIGEST_MISMATCH, 'staged payload does not match the BEGIN digest; nothing stored')
        }
        const first = payload[0]
        if (st.begin.format === PayloadFormat.senmlCbor && (first === undefined || first >> 5 !== 4)) {
          this.staging = undefined
          return fail(DeviceErrorCode.REFUSED, 'payload is not a SenML-CBOR array; nothing stored')
        }
        if (this.opts.refuse) {
          this.staging = undefined
          return fail(DeviceErrorCode.REFUSED, 'LwM2M client rejected the configuration (simulated refusal); nothing stored')
        }
        this.stored = payload
        // The generated key is bound to the stored configuration in the same step (docs/protocol.md §6).
        this.storedKey = st.begin.flags & BeginFlag.useGeneratedKey ? this.key?.privateKey : undefined
        this.staging = undefined
        this.opts.store?.(Buffer.from(payload))
        this.log(`lwprov: committed ${payload.length} bytes${st.begin.flags & BeginFlag.useGeneratedKey ? ' with the generated key' : ''}`)
        remember(FrameType.ACK, encodeAck(FrameType.COMMIT))
        return
      }
      case FrameType.READBACK: {
        if (!this.stored) return fail(DeviceErrorCode.NOTHING_STORED, 'nothing committed')
        const digest = createHash('sha256').update(this.stored).digest()
        if (this.opts.corruptDigest) digest[0] = digest[0]! ^ 0xff
        remember(FrameType.DIGEST, encodeDigest(digest, this.stored.length))
        return
      }
      case FrameType.CHALLENGE: {
        if (this.version < 2) return fail(DeviceErrorCode.UNSUPPORTED, 'CHALLENGE needs protocol version 2')
        const { nonce, endpoint } = decodeChallenge(f.payload)
        if (!this.stored) return fail(DeviceErrorCode.NOTHING_STORED, 'nothing committed')
        // Answer from storage, as firmware must: the credential is what the stored configuration holds.
        const cred = this.storedCredential()
        if (!cred) return fail(DeviceErrorCode.NO_CREDENTIAL, 'the stored configuration holds no PSK or private key')
        const storedSha256 = createHash('sha256').update(this.stored).digest()
        const { kind, proof } = computeProof(cred.security, cred.secret, { nonce, storedSha256, endpoint })
        this.log(`lwprov: proof of possession (${kind === ProofKind.hmacSha256 ? 'HMAC-SHA256' : 'signature'})`)
        remember(FrameType.PROOF, encodeProof(kind, proof))
        return
      }
      case FrameType.ABORT: {
        this.staging = undefined
        this.log('lwprov: session aborted by host')
        remember(FrameType.ACK, encodeAck(FrameType.ABORT))
        return
      }
      default:
        return fail(DeviceErrorCode.UNSUPPORTED, `frame type 0x${f.type.toString(16)} not supported`)
    }
  }

  /** The PSK or private key of the stored configuration's first secured security instance. */
  private storedCredential(): { security: 'psk' | 'cert'; secret: Uint8Array | KeyObject } | undefined {
    let cfg
    try {
      cfg = decodeSenmlCbor(this.stored!)
    } catch {
      return undefined
    }
    for (const sec of cfg.security) {
      if (sec.securityMode === SECURITY_MODE.psk && sec.secretKey.length > 0) return { security: 'psk', secret: sec.secretKey }
      if (sec.securityMode === SECURITY_MODE.cert) {
        if (sec.secretKey.length > 0) return { security: 'cert', secret: sec.secretKey }
        if (this.storedKey) return { security: 'cert', secret: this.storedKey }
      }
    }
    return undefined
  }

  /**
   * `--fault liar`: answers what a device that stores nothing can answer. Returns false for requests it handles
   * like an honest device (HELLO is handled before, KEYGEN/CSR_READ/ABORT as usual).
   */
  private lie(f: Frame, remember: (type: number, payload: Buffer) => void): boolean {
    switch (f.type) {
      case FrameType.BEGIN: {
        this.announced = decodeBegin(f.payload)
        this.staging = { begin: this.announced, data: [], received: 0 }
        remember(FrameType.ACK, encodeAck(FrameType.BEGIN))
        return true
      }
      case FrameType.DATA: {
        const { offset, chunk } = decodeData(f.payload)
        remember(FrameType.ACK, encodeAck(FrameType.DATA, encodeU32(offset + chunk.length)))
        return true
      }
      case FrameType.COMMIT:
        this.log('lwprov: committed (not really: this device stores nothing)')
        remember(FrameType.ACK, encodeAck(FrameType.COMMIT))
        return true
      case FrameType.READBACK: {
        const b = this.announced
        remember(FrameType.DIGEST, encodeDigest(b?.sha256 ?? Buffer.alloc(32), b?.total ?? 0))
        return true
      }
      case FrameType.CHALLENGE: {
        if (this.version < 2) return false
        const { nonce, endpoint } = decodeChallenge(f.payload)
        const sent = this.announced?.sha256 ?? Buffer.alloc(32)
        const proof = this.opts.liar === 'garbage' ? randomBytes(32) : createHmac('sha256', sent).update(proofMessage(nonce, sent, endpoint)).digest()
        remember(FrameType.PROOF, encodeProof(ProofKind.hmacSha256, proof))
        return true
      }
      default:
        return false
    }
  }

  private reply(req: Frame, type: number, payload: Buffer): void {
    const bytes = encodeFrame({ type, seq: req.seq, payload })
    this.last = { seq: req.seq, type: req.type, response: bytes }
    this.emit(bytes)
  }

  private send(type: number, seq: number, payload: Buffer, remember = true): void {
    const bytes = encodeFrame({ type, seq, payload })
    if (remember) this.last = { seq, type, response: bytes }
    this.emit(bytes)
  }

  private log(line: string): void {
    const ms = Date.now() - this.started
    const text = line === '' ? '' : `[${(ms / 1000).toFixed(3)}] ${line}`
    if (text !== '') this.opts.log?.(text)
    this.emit(Buffer.from(`${text}\r\n`, 'latin1'))
  }

  private emit(bytes: Buffer): void {
    for (const l of this.listeners) l(bytes)
  }
}

/** Makes an EC P-256 key pair and a PKCS#10 CSR with CN = commonName; the private key stays inside the "device". */
async function makeCsr(commonName: string): Promise<{ csr: Buffer; privateKey: KeyObject }> {
  await import('reflect-metadata')
  const x509 = await import('@peculiar/x509')
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
  const keys = (await webcrypto.subtle.generateKey(alg, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [commonName] }],
    keys,
    signingAlgorithm: alg,
  })
  return { csr: Buffer.from(csr.rawData), privateKey: KeyObject.from(keys.privateKey) }
}
