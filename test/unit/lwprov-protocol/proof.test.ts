/** Proof-of-possession messages and verification (lwprov protocol v2, docs/protocol.md §11). */
import { createHash, createHmac, createPublicKey, generateKeyPairSync, randomBytes, verify } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  CHALLENGE_MAX_ENDPOINT,
  MessageError,
  ProofKind,
  decodeChallenge,
  decodeHostHelloVersion,
  decodeProof,
  encodeChallenge,
  encodeHostHello,
  encodeProof,
  proofMessage,
} from '../../../src/core/inject/lwprov/messages.js'
import { checkProof, computeProof, expectedProof } from '../../../src/core/inject/lwprov/proof.js'
import { selfSigned } from '../../helpers/self-signed.js'

const nonce = randomBytes(32)
const digest = createHash('sha256').update('stored payload').digest()
const endpoint = 'urn:dev:os:0973-POP1'
const challenge = { nonce, sentSha256: digest, endpoint }
const device = { nonce, storedSha256: digest, endpoint: Buffer.from(endpoint) }
const certFor = (kind: 'ec' | 'rsa') => selfSigned(endpoint, kind)


describe('messages', () => {
  it('the proof message is the documented layout: context, nonce, stored digest, endpoint length and bytes', () => {
    const m = proofMessage(nonce, digest, Buffer.from('ep'))
    expect(m.subarray(0, 14).toString('latin1')).toBe('lwprov-pop-v2\0')
    expect(m.subarray(14, 46)).toEqual(nonce)
    expect(m.subarray(46, 78)).toEqual(digest)
    expect([...m.subarray(78)]).toEqual([2, 0x65, 0x70])
  })

  it('CHALLENGE and PROOF round-trip; malformed payloads are refused', () => {
    expect(decodeChallenge(encodeChallenge(nonce, endpoint))).toEqual({ nonce, endpoint: Buffer.from(endpoint) })
    expect(() => decodeChallenge(nonce)).toThrow(MessageError)
    expect(() => decodeChallenge(Buffer.alloc(32 + CHALLENGE_MAX_ENDPOINT + 1))).toThrow(MessageError)
    expect(() => encodeChallenge(nonce, 'x'.repeat(CHALLENGE_MAX_ENDPOINT + 1))).toThrow(RangeError)
    expect(() => encodeChallenge(nonce.subarray(1), endpoint)).toThrow(RangeError)
    expect(decodeProof(encodeProof(2, Buffer.from([1, 2, 3])))).toEqual({ kind: 2, proof: Buffer.from([1, 2, 3]) })
    expect(() => decodeProof(Buffer.from([1]))).toThrow(MessageError)
  })

  it('HELLO offers version 2; a HELLO without a version tag comes from a version 1 host', () => {
    expect(decodeHostHelloVersion(encodeHostHello(4096))).toBe(2)
    expect(decodeHostHelloVersion(encodeHostHello(4096, 1))).toBe(1)
    expect(decodeHostHelloVersion(Buffer.alloc(0))).toBe(1)
  })
})

describe('checkProof', () => {
  const psk = randomBytes(16)

  it('PSK: HMAC-SHA256(PSK, M) verifies; a wrong PSK, nonce, digest, endpoint, kind or length does not', () => {
    const c = { security: 'psk' as const, psk }
    const good = computeProof('psk', psk, device)
    expect(good.kind).toBe(ProofKind.hmacSha256)
    expect(good.proof).toEqual(createHmac('sha256', psk).update(proofMessage(nonce, digest, Buffer.from(endpoint))).digest())
    expect(checkProof(c, challenge, good)).toBeUndefined()
    expect(checkProof(c, challenge, computeProof('psk', randomBytes(16), device))).toMatch(/HMAC does not match/)
    expect(checkProof(c, { ...challenge, nonce: randomBytes(32) }, good)).toBeDefined()
    expect(checkProof(c, { ...challenge, sentSha256: Buffer.alloc(32) }, good)).toBeDefined()
    expect(checkProof(c, { ...challenge, endpoint: 'urn:dev:os:0973-OTHER' }, good)).toBeDefined()
    expect(checkProof(c, challenge, { kind: ProofKind.signature, proof: good.proof })).toMatch(/kind 2/)
    expect(checkProof(c, challenge, { kind: good.kind, proof: good.proof.subarray(0, 31) })).toBeDefined()
    // What a liar can compute without the PSK: an HMAC keyed with the digest it was sent.
    const liar = createHmac('sha256', digest).update(proofMessage(nonce, digest, Buffer.from(endpoint))).digest()
    expect(checkProof(c, challenge, { kind: ProofKind.hmacSha256, proof: liar })).toBeDefined()
  })

  it.each(['ec', 'rsa'] as const)('certificate (%s): a signature by the stored key verifies with the certificate; another key does not', async (kind) => {
    const a = await certFor(kind)
    const b = await certFor(kind)
    const c = { security: 'cert' as const, certificateDer: a.certificateDer }
    const good = computeProof('cert', a.privateKeyDer, device)
    expect(good.kind).toBe(ProofKind.signature)
    expect(checkProof(c, challenge, good)).toBeUndefined()
    expect(checkProof(c, challenge, computeProof('cert', b.privateKeyDer, device))).toMatch(/does not verify/)
    expect(checkProof(c, { ...challenge, nonce: randomBytes(32) }, good)).toBeDefined()
    expect(checkProof(c, challenge, { kind: ProofKind.signature, proof: randomBytes(good.proof.length) })).toBeDefined()
    expect(checkProof(c, challenge, { kind: ProofKind.hmacSha256, proof: good.proof })).toMatch(/kind 1/)
  })

  it('a SEC1 EC key or a KeyObject (key generated on the device) signs too', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const sec1 = privateKey.export({ type: 'sec1', format: 'der' })
    const sig = computeProof('cert', sec1, device)
    const viaObject = computeProof('cert', privateKey, device)
    const pub = createPublicKey(privateKey)
    const m = proofMessage(nonce, digest, Buffer.from(endpoint))
    expect(verify('sha256', m, pub, sig.proof)).toBe(true)
    expect(verify('sha256', m, pub, viaObject.proof)).toBe(true)
  })

  it('NoSec has no proof; unparsable certificates and missing secrets are reported, never accepted', () => {
    expect(expectedProof({ security: 'nosec' })).toBeUndefined()
    expect(expectedProof({ security: 'psk' })).toEqual({ kind: 1, name: 'pop-hmac' })
    expect(expectedProof({ security: 'cert' })).toEqual({ kind: 2, name: 'pop-signature' })
    expect(checkProof({ security: 'nosec' }, challenge, { kind: 1, proof: Buffer.alloc(32) })).toBeDefined()
    expect(checkProof({ security: 'psk' }, challenge, { kind: 1, proof: Buffer.alloc(32) })).toMatch(/no PSK/)
    expect(checkProof({ security: 'cert', certificateDer: Buffer.from([0x30, 0x00]) }, challenge, { kind: 2, proof: Buffer.alloc(70) })).toMatch(/cannot be parsed/)
  })
})

describe('simulated device', () => {
  it('answers a malformed CHALLENGE (or any malformed request) with ERROR BAD_MESSAGE instead of crashing', async () => {
    const { LwprovSimDevice } = await import('../../../src/core/inject/lwprov/sim.js')
    const { FrameScanner, FrameType, encodeFrame } = await import('../../../src/core/inject/lwprov/codec.js')
    const out: Buffer[] = []
    const sim = new LwprovSimDevice({ serial: 'SIM-BAD' })
    sim.onSend((b) => out.push(b))
    sim.receive(encodeFrame({ type: FrameType.HELLO, seq: 1, payload: encodeHostHello(4096) }))
    sim.receive(encodeFrame({ type: FrameType.CHALLENGE, seq: 2, payload: Buffer.alloc(5) }))
    sim.receive(encodeFrame({ type: FrameType.BEGIN, seq: 3, payload: Buffer.alloc(3) }))
    const scanner = new FrameScanner()
    const frames = out.flatMap((b) => scanner.push(b)).flatMap((e) => (e.kind === 'frame' ? [e.frame] : []))
    const errors = frames.filter((f) => f.type === FrameType.ERROR)
    expect(errors.map((f) => [f.seq, f.payload.readUInt16BE(0)])).toEqual([
      [2, 2],
      [3, 2],
    ])
  })
})
