/**
 * Device certificate issuing at factory speed.
 *
 * Small batches (< INLINE_LIMIT) are issued on the calling thread. Larger ones are split into chunks that a pool of
 * worker threads pulls from a queue. The worker script is the compiled `issue-worker.js` next to this module; when it
 * does not exist — i.e. this module runs from TypeScript source, as under vitest — issuing falls back to the calling
 * thread, with identical output (same DeviceIssuer code). The worker path is tested against the compiled build
 * (test/integration/pki/workers.test.ts) and exercised by bench/pki.bench.js.
 */
import { checkDays } from '../validate/bounds.js'
import { existsSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'

import { LwprovError, usageError } from '../errors.js'
import { DeviceIssuer, finish, type DeviceProfileSpec, type DeviceRequest } from './issue-core.js'
import type { ChunkReply, ChunkRequest } from './issue-worker.js'
import type { IssuedCertificate, LoadedCa } from './types.js'

/** Below this many certificates, starting workers costs more than it saves. */
export const INLINE_LIMIT = 200
const CHUNK = 250
const MINUTE = 60_000
const DAY = 86_400_000

export interface IssueOptions {
  /** Validity in days from `now` (clamped to the CA's own notAfter). */
  days: number
  /** Issue time; default the current time. notBefore is one minute earlier to absorb device clock skew. */
  now?: Date
  /** Worker threads for large batches; default the available parallelism (max 4). 0 = always inline. */
  workers?: number
}

/** The batch-constant part of the device profile for `ca`, and the resulting notAfter. */
export function deviceProfile(ca: LoadedCa, days: number, now: Date = new Date()): { spec: DeviceProfileSpec; notAfter: Date } {
  checkDays(days)
  const t = Math.floor(now.getTime() / 1000) * 1000
  const notAfter = Math.min(t + days * DAY, Math.floor(ca.notAfter.getTime() / 1000) * 1000)
  const notBefore = Math.max(t - MINUTE, ca.notBefore.getTime())
  const scheme = ca.signer.scheme
  return {
    spec: {
      ...(ca.privateKey ? { caKey: ca.privateKey } : {}),
      ...(ca.signer.token ? { token: ca.signer.token } : {}),
      hash: scheme.hash,
      signatureAlgorithm: scheme.algorithmDer,
      issuer: ca.subjectDer,
      caKeyId: ca.keyId,
      notBefore,
      notAfter,
    },
    notAfter: new Date(notAfter),
  }
}

function checkRequests(reqs: readonly DeviceRequest[]): void {
  for (const r of reqs) {
    if (typeof r.endpoint !== 'string' || r.endpoint.length === 0) {
      throw usageError('E_ENDPOINT_INVALID', 'A device certificate needs a non-empty endpoint name (its CN).', 'Check the endpoint list.')
    }
  }
}

function workerScript(): URL | undefined {
  const url = new URL('./issue-worker.js', import.meta.url)
  return url.protocol === 'file:' && existsSync(fileURLToPath(url)) ? url : undefined
}

/** Whether large batches can use worker threads here (false when running from TypeScript source, e.g. vitest). */
export function workersAvailable(): boolean {
  return workerScript() !== undefined
}

/**
 * Issues one P-256 key and certificate per request, in request order: subject CN = endpoint (OU = accountId when
 * given), random positive 16-byte serial, keyUsage digitalSignature (critical), EKU clientAuth, SKI, AKI = the CA's
 * key id, basicConstraints CA:false (critical), validity now-1min .. now+days, signed with the CA's key.
 */
export async function issueDeviceCertificates(ca: LoadedCa, reqs: readonly DeviceRequest[], opts: IssueOptions): Promise<IssuedCertificate[]> {
  checkRequests(reqs)
  const { spec, notAfter } = deviceProfile(ca, opts.days, opts.now)
  // a delegated line CA's quota is taken before anything is signed
  if (ca.beforeIssue) await ca.beforeIssue(reqs.length)
  const workers = Math.min(opts.workers ?? Math.min(availableParallelism(), 4), Math.ceil(reqs.length / CHUNK))
  const script = workerScript()
  if (reqs.length < INLINE_LIMIT || workers < 1 || !script) {
    return new DeviceIssuer(spec, (tbs) => ca.signer.sign(tbs)).issueMany(reqs).map((o, i) => ({
      endpoint: reqs[i]!.endpoint,
      certificateDer: o.certificateDer,
      privateKeyDer: o.privateKeyDer!,
      serialHex: o.serialHex,
      notAfter,
      ...finish(o.certificateDer),
    }))
  }
  return issueInWorkers(script, spec, reqs, workers, notAfter)
}

async function issueInWorkers(
  script: URL,
  spec: DeviceProfileSpec,
  reqs: readonly DeviceRequest[],
  workerCount: number,
  notAfter: Date,
): Promise<IssuedCertificate[]> {
  const results: IssuedCertificate[] = new Array(reqs.length)
  const chunks: Array<{ id: number; start: number; reqs: DeviceRequest[] }> = []
  for (let s = 0; s < reqs.length; s += CHUNK) {
    // Plain objects only: requests may carry extra fields a worker cannot clone.
    const part = reqs.slice(s, s + CHUNK).map((r) => (r.accountId === undefined ? { endpoint: r.endpoint } : { endpoint: r.endpoint, accountId: r.accountId }))
    chunks.push({ id: chunks.length, start: s, reqs: part })
  }
  let next = 0
  const pool = Array.from({ length: workerCount }, () => new Worker(script, { workerData: { spec } }))
  try {
    await Promise.all(
      pool.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            const feed = (): void => {
              const c = chunks[next++]
              if (!c) return resolve()
              w.postMessage({ id: c.id, reqs: c.reqs } satisfies ChunkRequest)
            }
            w.on('message', (m: ChunkReply) => {
              if (m.error !== undefined || !m.pack || !m.lens) {
                reject(new LwprovError('E_ISSUE_FAILED', `Certificate issuing failed in a worker: ${m.error ?? 'empty reply'}.`, { exit: 'crypto' }))
                return
              }
              const c = chunks[m.id]!
              const pack = Buffer.from(m.pack.buffer, m.pack.byteOffset, m.pack.byteLength)
              let off = 0
              for (let i = 0; i < c.reqs.length; i++) {
                const cl = m.lens[2 * i]!
                const kl = m.lens[2 * i + 1]!
                results[c.start + i] = {
                  endpoint: c.reqs[i]!.endpoint,
                  certificateDer: pack.subarray(off, off + cl),
                  privateKeyDer: pack.subarray(off + cl, off + cl + kl),
                  certificatePem: m.pems![i]!,
                  serialHex: m.serials![i]!,
                  fingerprint: m.fingerprints![i]!,
                  notAfter,
                }
                off += cl + kl
              }
              feed()
            })
            w.on('exit', (code) => reject(new LwprovError('E_ISSUE_WORKER', `Certificate worker exited early (code ${code}).`, { exit: 'bug' })))
            w.on('error', (e) => reject(new LwprovError('E_ISSUE_WORKER', `Certificate worker crashed: ${e.message}.`, { exit: 'bug', cause: e })))
            feed()
          }),
      ),
    )
  } finally {
    await Promise.all(pool.map((w) => w.terminate()))
  }
  return results
}
