/**
 * Claim codes: a human-friendly registration code per device, printed on its label and typed in by the customer.
 *
 * - Alphabet: Crockford base32 without I, L, O, U (no 1/I/L or 0/O confusion, no accidental words); input is
 *   normalised the Crockford way (I/L → 1, O → 0, case and separators ignored).
 * - Shape: 12 symbols grouped `XXXX-XXXX-XXXX`: 11 random symbols (55 bits) + 1 check symbol.
 * - Check symbol: the Damm algorithm over the quasigroup x∘y = 2·x ⊕ y in GF(32). Because that quasigroup is
 *   weakly totally anti-symmetric (a ≠ 1), it detects every single substitution and every adjacent transposition,
 *   which a mod-32 Luhn does not.
 * - Storage: only a salted scrypt hash is kept (`ManifestRecord.claimHash`); the code itself is shown once.
 */
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto'

import { usageError } from '../errors.js'

/** Crockford base32 symbols, value = index. */
export const CLAIM_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
const DATA_SYMBOLS = 11
const GROUP = 4

/** Multiplication in GF(2^5) modulo x^5 + x^2 + 1. */
function gfMul(a: number, b: number): number {
  let r = 0
  for (let i = 0; i < 5; i++) {
    if (b & 1) r ^= a
    b >>= 1
    a <<= 1
    if (a & 0x20) a ^= 0x25
  }
  return r
}

/** The Damm quasigroup operation: interim ∘ digit. */
const op = (interim: number, digit: number) => gfMul(2, interim) ^ digit

function values(symbols: string): number[] {
  return [...symbols].map((c) => {
    const v = CLAIM_ALPHABET.indexOf(c)
    if (v < 0) throw usageError('E_CLAIM_CODE_INVALID', `'${c}' is not a claim-code character.`, `Claim codes use ${CLAIM_ALPHABET}.`)
    return v
  })
}

/** The check symbol for a string of alphabet symbols (so that the Damm interim over all of them ends at 0). */
export function claimCheckSymbol(symbols: string): string {
  let interim = 0
  for (const v of values(symbols)) interim = op(interim, v)
  // interim ∘ c = 0  ⇔  2·interim ⊕ c = 0  ⇔  c = 2·interim (characteristic 2).
  return CLAIM_ALPHABET[gfMul(2, interim)]!
}

/** Uppercases, drops separators and maps the Crockford look-alikes (I, L → 1; O → 0). */
export function normalizeClaimCode(code: string): string {
  return code
    .toUpperCase()
    .replace(/[\s-]/g, '')
    .replace(/[IL]/g, '1')
    .replace(/O/g, '0')
}

/** True when the code has the right length, alphabet and check symbol (after normalisation). */
export function isValidClaimCode(code: string): boolean {
  const n = normalizeClaimCode(code)
  if (n.length !== DATA_SYMBOLS + 1 || ![...n].every((c) => CLAIM_ALPHABET.includes(c))) return false
  let interim = 0
  for (const v of values(n)) interim = op(interim, v)
  return interim === 0
}

/** Groups a normalised code as XXXX-XXXX-XXXX. */
export function formatClaimCode(normalized: string): string {
  const parts: string[] = []
  for (let i = 0; i < normalized.length; i += GROUP) parts.push(normalized.slice(i, i + GROUP))
  return parts.join('-')
}

/** A fresh claim code, e.g. `7K3M-Q9XD-2HTB`. `random` is injectable for tests. */
export function generateClaimCode(random: (n: number) => Buffer = randomBytes): string {
  const bytes = random(DATA_SYMBOLS)
  // 256 is a multiple of 32, so `b & 31` is unbiased.
  let s = ''
  for (let i = 0; i < DATA_SYMBOLS; i++) s += CLAIM_ALPHABET[bytes[i]! & 31]
  return formatClaimCode(s + claimCheckSymbol(s))
}

/**
 * scrypt parameters: 55 bits of entropy per code already defeat offline guessing, so a light cost (≈1 ms) keeps a
 * 10 000-device work order fast while still making a leaked manifest useless for enumerating codes.
 */
const SCRYPT = { N: 1024, r: 8, p: 1, keylen: 32 } as const

/** `scrypt$N$r$p$<salt b64url>$<hash b64url>` of the normalised code, with a fresh 16-byte salt. */
export function hashClaimCode(code: string, random: (n: number) => Buffer = randomBytes): string {
  const salt = random(16)
  const h = scryptSync(normalizeClaimCode(code), salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p })
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), h.toString('base64url')].join('$')
}

/** Whether `code` matches a hash made by {@link hashClaimCode}; constant-time compare. */
export function verifyClaimCode(code: string, stored: string): boolean {
  const [kind, n, r, p, salt, hash] = stored.split('$')
  if (kind !== 'scrypt' || !salt || !hash) return false
  const want = Buffer.from(hash, 'base64url')
  const got = scryptSync(normalizeClaimCode(code), Buffer.from(salt, 'base64url'), want.length, { N: Number(n), r: Number(r), p: Number(p) })
  return got.length === want.length && timingSafeEqual(got, want)
}
