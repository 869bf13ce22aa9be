import { randomBytes } from 'node:crypto'

import { parseEndpointTemplate } from '../lwm2m/endpoint.js'
import type { ManifestStore } from '../manifest/types.js'
import type { DeviceInfo } from '../model.js'

/**
 * Device information per device: `--serial-number SN-{seq:06}` gives each device the next number from the manifest's
 * counter (other placeholders are filled per call); without a template every device gets the same information.
 */
export function deviceInfoSource(store: Pick<ManifestStore, 'allocateSeq'>, info: DeviceInfo | undefined): () => Promise<DeviceInfo | undefined> {
  const template = info?.serialNumber?.includes('{') ? parseEndpointTemplate(info.serialNumber) : undefined
  return async () => {
    if (!info || !template) return info
    const seq = template.hasSeq ? await store.allocateSeq(`serial-number:${template.source}`, 1) : undefined
    return { ...info, serialNumber: template.renderText({ ...(seq === undefined ? {} : { seq }), now: new Date(), random: randomBytes }) }
  }
}
