/**
 * `lwprov ports --probe`: asks each port in the safe probe order (core/inject/auto.ts) which protocol answers and
 * who the device is. Nothing is written to a device beyond the probes' read-only questions.
 */
import { openSerialLink } from '../adapters/serial-link.js'
import { probeLink } from '../core/inject/auto.js'
import { protocolByName } from '../core/inject/index.js'
import { DEFAULT_TIMEOUTS, type ProtocolName } from '../core/inject/types.js'
import { LwprovError } from '../core/errors.js'
import { checkDeviceIdentity } from '../core/validate/index.js'

export interface ProbedPort {
  path: string
  protocol?: ProtocolName
  serial?: string
  imei?: string
  firmware?: string
  /** Why nothing was found (error code). */
  error?: string
  tried?: { protocol: ProtocolName; answer: string }[]
}

export async function probePorts(paths: string[], baud: number, timeoutMs = 3000): Promise<ProbedPort[]> {
  return Promise.all(
    paths.map(async (p): Promise<ProbedPort> => {
      let link
      try {
        link = await openSerialLink(p, { baud, openTimeoutMs: 2000 })
        const r = await probeLink(link, (n) => protocolByName(n), { ...DEFAULT_TIMEOUTS, identify: timeoutMs, frame: timeoutMs }, {})
        const id = r.identity
        // untrusted: only identities in the identity character set are reported (the renderer escapes the rest)
        for (const f of ['serial', 'imei'] as const) checkDeviceIdentity(id[f], f, p)
        return {
          path: p,
          protocol: r.protocol,
          ...(id.serial ? { serial: id.serial } : {}),
          ...(id.imei ? { imei: id.imei } : {}),
          ...(id.firmware ? { firmware: id.firmware } : {}),
          tried: r.tried,
        }
      } catch (e) {
        return { path: p, error: e instanceof LwprovError ? e.code : String(e), ...(e instanceof LwprovError && Array.isArray(e.details?.['tried']) ? { tried: e.details['tried'] as ProbedPort['tried'] } : {}) }
      } finally {
        await link?.close().catch(() => {})
      }
    }),
  )
}
