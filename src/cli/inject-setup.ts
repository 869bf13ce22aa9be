/**
 * Everything `lwprov inject` settles before the device is touched: the transport, the request checked without the
 * manifest where it can be, the credential profile (flags, else what the batch recorded), secrets and device info.
 */
import { hostname } from 'node:os'
import path from 'node:path'

import { openSerialLink } from '../adapters/serial-link.js'
import { openTcpLink } from '../adapters/tcp-link.js'
import { usageError } from '../core/errors.js'
import { deviceInfoSource } from '../core/inject/device-info.js'
import { withAccountId } from '../core/inject/fcc/bundle.js'
import { requireBatch } from '../core/station/batch.js'
import { protocolByName, validateInjectRequest, type ByteLink, type InjectOptions } from '../core/inject/index.js'
import { checkReason } from '../core/validate/index.js'
import {
  deviceInfoFromFlags,
  identityFlagValues,
  bindCaToManifest,
  loadCaFromFlags,
  masterKeyFromFlags,
  openStoreFromFlags,
  profileFromFlags,
  profileFromFlagsOrBatch,
  type CaFlagValues,
  type ManifestFlagValues,
  type ProfileFlagValues,
} from './context.js'
import { protocolOptionsFromFlags } from './flags.js'

export interface InjectFlagValues extends ProfileFlagValues, CaFlagValues, ManifestFlagValues {
  [flag: string]: unknown
  port?: string | undefined
  tcp?: string | undefined
  baud: number
  protocol?: string | undefined
  endpoint?: string | undefined
  batch?: string | undefined
  station?: string | undefined
  'device-keygen': boolean
  'first-to-claim': boolean
  reprovision: boolean
  reason?: string | undefined
  retries: number
  timeout?: number | undefined
}

/** The session options for one device, without hooks; `where` is the device's address as typed. */
export async function prepareInject(
  flags: InjectFlagValues,
  ctx: { warn: (text: string) => void; onCleanup: (fn: () => Promise<void> | void) => void },
): Promise<{ options: Omit<InjectOptions, 'hooks'>; where: string }> {
  if ((flags.port === undefined) === (flags.tcp === undefined)) {
    throw usageError('E_TRANSPORT_MISSING', 'Give exactly one of --port and --tcp.', 'Pass --port /dev/ttyUSB0 for a serial device, or --tcp HOST:PORT for a device on the network.')
  }
  if (flags.protocol === undefined) {
    throw usageError('E_PROTOCOL_MISSING', 'Missing --protocol.', 'Pass --protocol lwprov (open protocol) or --protocol fcc (Izuma factory configurator).')
  }
  if (flags.endpoint === undefined && flags.batch === undefined) {
    throw usageError('E_ENDPOINT_MISSING', 'No endpoint for the device.', "Pass --endpoint NAME (or a template such as 'urn:dev:ops:32473-Widget-{serial}') or --batch NAME.")
  }
  // Everything checkable without the device, the port or the manifest, so a mistake opens nothing. A profile that
  // comes from the batch's recorded rows is checked once the manifest is open (still before any port).
  const complete = Boolean(flags.mode && flags.security && flags.server)
  const early = complete ? profileFromFlags(flags, ctx.warn) : undefined
  const request = {
    hasCa: Boolean(flags.ca),
    security: flags.security,
    deviceKeygen: flags['device-keygen'],
    ...(flags.tcp === undefined ? { baud: flags.baud } : {}),
    endpoint: flags.endpoint,
    station: flags.station,
    identityFlags: identityFlagValues(flags),
    protocol: flags.protocol,
    utcOffset: flags['utc-offset'] as string | undefined,
  }
  validateInjectRequest({ ...request, ...(early ? { profile: early } : {}) })
  const reprovision = flags.reprovision ? { reason: checkReason(flags.reason) } : undefined
  const store = await openStoreFromFlags(flags, ctx.onCleanup)
  // claiming from a work order that does not exist is found before any port is opened
  if (flags.batch !== undefined && flags.endpoint === undefined) await requireBatch(store, flags.batch)
  const given = early ?? (await profileFromFlagsOrBatch(flags, store, ctx.warn))
  if (!early) validateInjectRequest({ ...request, profile: given })
  const profile = flags.protocol === 'fcc' ? withAccountId(given, flags['first-to-claim']) : given
  const masterKey = masterKeyFromFlags(flags, profile.security === 'psk')
  // a delegated line CA's quota is taken in the manifest before each certificate
  const ca = bindCaToManifest(await loadCaFromFlags(flags, ctx.onCleanup as (fn: () => Promise<void>) => void), store)
  const deviceInfo = await deviceInfoSource(store, deviceInfoFromFlags(flags))()
  const target = flags.tcp ?? path.resolve(flags.port!)
  const t = flags.timeout
  return {
    where: flags.tcp ?? flags.port!,
    options: {
      connect: (): Promise<ByteLink> => (flags.tcp !== undefined ? openTcpLink(flags.tcp) : openSerialLink(target, { baud: flags.baud })),
      target,
      protocol: protocolByName(flags.protocol, protocolOptionsFromFlags(flags as Parameters<typeof protocolOptionsFromFlags>[0])),
      store,
      profile,
      ...(flags.endpoint === undefined ? {} : { endpoint: flags.endpoint }),
      ...(flags.batch === undefined ? {} : { batch: flags.batch }),
      ...(ca ? { ca } : {}),
      ...(masterKey ? { masterKey } : {}),
      deviceKeygen: flags['device-keygen'],
      firstToClaim: flags['first-to-claim'],
      ...(reprovision ? { reprovision } : {}),
      ...(deviceInfo ? { deviceInfo } : {}),
      ...(deviceInfo?.serialNumber ? { identity: { serial: deviceInfo.serialNumber } } : {}),
      station: flags.station ?? hostname(),
      retries: flags.retries,
      ...(t === undefined ? {} : { timeouts: { identify: t, frame: t, commit: 3 * t } }),
    },
  }
}
