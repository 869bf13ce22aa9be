/**
 * Station glue between serial ports and the UI-free runner: how a port's identity is read (so a re-created node
 * reads as the next device) and how a device is asked who it is without provisioning it.
 */
import fs from 'node:fs'

import { openSerialLink } from '../adapters/serial-link.js'
import { DEFAULT_TIMEOUTS, type ProvisioningProtocol } from '../core/inject/types.js'

/** What is at a port path now: the symlink's inode plus the device node, so a re-created node reads as new. */
export function portIdentity(p: string): string | undefined {
  try {
    const l = fs.lstatSync(p)
    const real = fs.realpathSync(p)
    const st = fs.statSync(real)
    return `${l.ino}:${real}:${st.rdev}:${st.ino}`
  } catch {
    return undefined
  }
}

/** Asks the device on a port who it is (lwprov HELLO), for jigs where the port node never changes. */
export async function probe(protocol: ProvisioningProtocol, port: string, baud: number): Promise<string | undefined> {
  const link = await openSerialLink(port, { baud, openTimeoutMs: 1000 })
  try {
    const id = await protocol.identify(link, { ...DEFAULT_TIMEOUTS, identify: 800, frame: 800 }, {})
    return id.serial ?? id.imei ?? id.mac
  } finally {
    await link.close().catch(() => {})
  }
}
