/**
 * Loads the captured FCC vectors. A verbatim copy of the shared `vectors/fcc` lives in ./fixtures/fcc so the tests
 * run anywhere (CI has no /work/shared); LWPROV_VECTORS=<vectors root> points them at another copy.
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const VECTOR_DIR = process.env.LWPROV_VECTORS
  ? path.join(process.env.LWPROV_VECTORS, 'fcc')
  : path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'fcc')

export interface VectorMessage {
  request: Buffer
  response?: Buffer
  expectedTransportStatus: number | null
  expectedReturnStatus: number | null
  bundle: Record<string, unknown>
  bundleBytesPaths: string[]
  map?: Record<string, unknown>
  mapBytesPaths: string[]
}

export interface VectorCase {
  id: string
  dir: string
  closedAfterLast: boolean
  credentials: string[]
  messages: VectorMessage[]
}

export function key(name: string): Buffer {
  return fs.readFileSync(path.join(VECTOR_DIR, 'keys', name))
}

export function loadCases(): VectorCase[] {
  const index = JSON.parse(fs.readFileSync(path.join(VECTOR_DIR, 'index.json'), 'utf8')) as { cases: Array<{ dir: string }> }
  return index.cases.map(({ dir }) => {
    const full = path.join(VECTOR_DIR, dir)
    const c = JSON.parse(fs.readFileSync(path.join(full, 'case.json'), 'utf8'))
    return {
      id: c.id,
      dir: full,
      closedAfterLast: c.connection_closed_by_device_after_last_message,
      credentials: c.credentials,
      messages: c.messages.map((m: any) => ({
        request: fs.readFileSync(path.join(full, m.request_file)),
        response: m.response_file ? fs.readFileSync(path.join(full, m.response_file)) : undefined,
        expectedTransportStatus: m.expected_transport_status,
        expectedReturnStatus: m.expected_return_status,
        bundle: m.request.bundle,
        bundleBytesPaths: m.request.bundle_bytes_paths,
        map: m.response?.map ?? undefined,
        mapBytesPaths: m.response?.map_bytes_paths ?? [],
      })),
    }
  })
}

/** Turns the JSON form of a decoded CBOR item back into values comparable with `cborToPlain` (hex → Buffer). */
export function withBytes(json: Record<string, unknown>, pointers: string[]): Record<string, unknown> {
  const copy = structuredClone(json)
  for (const p of pointers) {
    const parts = p.split('/').slice(1)
    let node: any = copy
    for (const part of parts.slice(0, -1)) node = node[part]
    const last = parts[parts.length - 1]!
    node[last] = Buffer.from(node[last] as string, 'hex')
  }
  return copy
}

/** The CBOR payload of a request frame. */
export function requestPayload(frame: Buffer): Buffer {
  return frame.subarray(12, frame.length - 32)
}
