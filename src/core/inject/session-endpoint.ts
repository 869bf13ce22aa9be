/** The endpoint step of the inject session: which name this device gets, and whether it may have it. */
import { randomBytes } from 'node:crypto'

import { conflictError, deviceError, usageError } from '../errors.js'
import { parseEndpointTemplate, validateEndpointName } from '../lwm2m/endpoint.js'
import { assertBatchActive } from '../manifest/batch-window.js'
import type { ManifestRecord, ManifestStore } from '../manifest/types.js'
import { shown } from '../validate/index.js'
import { HELD_BY_DEVICE } from './session-records.js'
import type { InjectOptions } from './session.js'
import type { DeviceIdentity } from './types.js'

/** Statuses a row can be (re)injected from. */
const INJECTABLE = new Set(['reserved', 'generated', 'injected', 'verified', 'failed'])

export interface Resolved {
  endpoint: string
  row: ManifestRecord | undefined
  /** `{seq}` template and number of a newly allocated name (recorded so later batches continue after it). */
  template?: string
  seq?: number
}

/**
 * Picks the endpoint for this device: the device's existing row first (idempotent re-injection), then an explicit
 * name or device-filled template, then the batch's next reserved name.
 */
export async function resolveEndpoint(opts: InjectOptions, identity: DeviceIdentity, deviceId: string | undefined, now: Date): Promise<Resolved> {
  const store = opts.store
  const take = async (row: ManifestRecord | undefined, name: string): Promise<Resolved> => {
    // One device, one live identity: the manifest must not claim a device holds two endpoints when its storage
    // only has the last one written.
    const holding = deviceId ? await findDeviceRow(store, deviceId, (r) => r.endpoint !== name && (r.status === 'verified' || r.status === 'injected')) : undefined
    if (holding) {
      throw conflictError(
        'E_DEVICE_HAS_ENDPOINT',
        `Device ${deviceId} already holds endpoint ${holding.endpoint} (${holding.status}); refusing to give it ${name} as well.`,
        `Re-inject it as ${holding.endpoint} (--endpoint ${holding.endpoint}), or revoke that endpoint first.`,
        { endpoint: holding.endpoint },
      )
    }
    if (row === undefined) return { endpoint: name, row }
    // A row a work order holds is injected only inside the work order's window, however it is named.
    if ((row.status === 'reserved' || row.status === 'generated') && opts.batch === undefined) {
      const header = await store.getBatch(row.batch)
      if (header) assertBatchActive(header, now)
    }
    if (!INJECTABLE.has(row.status)) {
      throw conflictError('E_ENDPOINT_REVOKED', `Endpoint ${name} is ${row.status}; it cannot be injected again.`, 'Pick another endpoint name.')
    }
    // A row a device holds goes back only to that device, proven by its id: an unidentified device (or a row that
    // does not say who holds it) must not take it over.
    if (HELD_BY_DEVICE.has(row.status) && (!row.deviceId || !deviceId || row.deviceId !== deviceId)) {
      throw conflictError(
        'E_ENDPOINT_TAKEN',
        !row.deviceId
          ? `Endpoint ${name} is ${row.status}, and the manifest does not say which device holds it; refusing to inject it into ${deviceId ? `device ${deviceId}` : 'this device'}.`
          : !deviceId
            ? `Endpoint ${name} is ${row.status} on device ${row.deviceId}, and this device did not report a serial, IMEI or MAC to show it is that device.`
            : `Endpoint ${name} already belongs to device ${row.deviceId}, not ${deviceId}.`,
        !deviceId && row.deviceId
          ? `If this is device ${row.deviceId}, pass its identity (--serial-number ${row.deviceId} for FCC); otherwise pick another endpoint name.`
          : 'Each endpoint goes to one device: pick another name, or use a template such as urn:dev:ops:32473-Widget-{serial}.',
        { endpoint: name },
      )
    }
    // A verified row is re-provisioned only on request: a second device reporting the same serial must not silently
    // take over the credentials the first one holds (the manifest would no longer describe the first device).
    if (row.status === 'verified' && !opts.reprovision) {
      throw conflictError(
        'E_SERIAL_COLLISION',
        `Device ${shown(deviceId ?? '(no identity)')} is already verified as endpoint ${shown(name)}${row.station ? ` (station ${shown(row.station)}, ${row.updatedAt})` : ''}. Either a second device reports the same serial (a serial collision), or this device is being provisioned again.`,
        `If this is a different device, set it aside and check its serial. If it is the same device and it needs new credentials, pass --reprovision --reason TEXT (the old credentials are kept as history).`,
        { endpoint: name, deviceId: deviceId ?? null },
      )
    }
    if (row.deviceId && deviceId && row.deviceId !== deviceId) {
      throw conflictError(
        'E_ENDPOINT_TAKEN',
        `Endpoint ${name} already belongs to device ${row.deviceId}, not ${deviceId}.`,
        'Each endpoint goes to one device: pick another name, or use a template such as urn:dev:ops:32473-Widget-{serial}.',
      )
    }
    return { endpoint: name, row }
  }

  if (opts.endpoint !== undefined) {
    const t = parseEndpointTemplate(opts.endpoint)
    if (!t.isTemplate && !t.hasPlaceholders) {
      validateEndpointName(opts.endpoint)
      return take(await store.get(opts.endpoint), opts.endpoint)
    }
    const device = {
      ...(identity.serial ? { serial: identity.serial } : {}),
      ...(identity.imei ? { imei: identity.imei } : {}),
      ...(identity.mac ? { mac: identity.mac } : {}),
    }
    const onlyDevice = !t.hasSeq && t.deviceFields.length > 0 && !/\{(uuid|hex:\d+)\}/.test(t.source)
    if (onlyDevice) {
      const name = t.render({ now, random: randomBytes, device })
      return take(await store.get(name), name)
    }
    // {seq}/{uuid}/{hex} names differ per call: a device that comes back keeps the name it got the first time.
    const mine = deviceId ? await findDeviceRow(store, deviceId, (r) => r.template === t.source) : undefined
    if (mine) return take(mine, mine.endpoint)
    const seq = t.hasSeq ? await store.allocateSeq(t.seqKey, 1) : undefined
    const name = t.render({ ...(seq === undefined ? {} : { seq }), now, random: randomBytes, device })
    return { ...(await take(await store.get(name), name)), template: t.source, ...(seq === undefined ? {} : { seq }) }
  }

  if (opts.batch !== undefined) {
    if (!deviceId) {
      throw deviceError('E_DEVICE_NO_IDENTITY', 'The device did not report a serial, IMEI or MAC, so it cannot claim a name from a batch.', 'Pass --serial-number, or --endpoint NAME.')
    }
    // A work order takes devices only inside its activation window (checked before any name is claimed).
    const header = await store.getBatch(opts.batch)
    if (header) assertBatchActive(header, now)
    const mine = await findDeviceRow(store, deviceId, (r) => r.batch === opts.batch)
    if (mine) return take(mine, mine.endpoint)
    const elsewhere = await findDeviceRow(store, deviceId, (r) => r.status === 'verified' || r.status === 'injected')
    if (elsewhere) {
      throw conflictError(
        'E_DEVICE_HAS_ENDPOINT',
        `Device ${deviceId} already holds endpoint ${elsewhere.endpoint} (${elsewhere.status}, batch ${elsewhere.batch}); refusing to claim a second name from ${opts.batch}.`,
        `Re-inject it as ${elsewhere.endpoint} (--endpoint ${elsewhere.endpoint}), or revoke that endpoint first.`,
        { endpoint: elsewhere.endpoint },
      )
    }
    const claimed = await store.claimNext(opts.batch, deviceId, opts.station ?? 'lwprov')
    if (!claimed) {
      // `credentials generate` records a batch by its rows alone (no work-order header).
      const exists = (await store.getBatch(opts.batch)) !== undefined || (await store.count({ batch: opts.batch })) > 0
      if (!exists) throw usageError('E_BATCH_NOT_FOUND', `There is no batch named ${opts.batch}.`, 'Create it with `lwprov batch create`, or check --batch.')
      throw conflictError('E_BATCH_EXHAUSTED', `Batch ${opts.batch} has no reserved endpoint names left.`, 'Reserve more names with `lwprov batch create`, or use --endpoint.')
    }
    return { endpoint: claimed.endpoint, row: claimed }
  }
  throw usageError('E_ENDPOINT_MISSING', 'No endpoint for the device.', "Pass --endpoint NAME (or a template such as 'urn:dev:ops:32473-Widget-{serial}') or --batch NAME.")
}

async function findDeviceRow(store: ManifestStore, deviceId: string, match: (r: ManifestRecord) => boolean): Promise<ManifestRecord | undefined> {
  for await (const r of store.list({ deviceId })) {
    if (r.status !== 'revoked' && match(r)) return r
  }
  return undefined
}
