/**
 * Every question lwprov asks a technician, in one module (style.md §4). Prompts render on stderr so stdout stays
 * clean; callers only ask when `isInteractive()` — without a TTY they fail naming the flags instead.
 */
import { existsSync } from 'node:fs'

import { checkbox, confirm, input, number, select } from '@inquirer/prompts'

import type { PortInfo } from '../adapters/ports.js'
import type { BatchStatus } from '../core/station/batch.js'

const ctx = { output: process.stderr }

/** A station profile to load, or undefined to answer the questions one by one. */
export async function askProfile(): Promise<string | undefined> {
  const answer = await input(
    {
      message: 'Station profile (YAML file; leave empty to answer the questions instead):',
      validate: (v) => v.trim() === '' || existsSync(v.trim()) || `No file ${v.trim()}`,
    },
    ctx,
  )
  return answer.trim() === '' ? undefined : answer.trim()
}

/** Picks the work order from those that still have names to give. */
export async function askWorkOrder(batches: BatchStatus[]): Promise<string> {
  const open = batches.filter((b) => b.state === 'active' && b.remaining > 0)
  if (open.length === 0) {
    return input({ message: 'Work order (no open work orders found; create one with `lwprov batch create`):', validate: (v) => v.trim() !== '' || 'Type a name' }, ctx)
  }
  return select(
    {
      message: 'Work order:',
      choices: open.map((b) => ({
        name: `${b.name}  (${b.remaining} of ${b.total} to do${b.expiresOn ? `, expires ${b.expiresOn.slice(0, 10)}` : ''})`,
        value: b.name,
      })),
    },
    ctx,
  )
}

const BY_HAND = '\u0000by-hand'

/** Which ports to use: detected serial ports (USB ones pre-selected) or paths typed by hand. */
export async function askPorts(detected: PortInfo[]): Promise<string[]> {
  let picked: string[] = []
  if (detected.length > 0) {
    picked = await checkbox(
      {
        message: 'Ports to provision on (space to select, enter to confirm):',
        choices: [
          ...detected.map((p) => ({
            name: `${p.path}${p.vendorId ? `  ${p.vendorId}:${p.productId ?? '????'}` : ''}${p.product ? `  ${p.product}` : ''}${p.serialNumber ? `  ${p.serialNumber}` : ''}`,
            value: p.path,
            checked: p.vendorId !== undefined,
          })),
          { name: 'Other ports (type their paths)…', value: BY_HAND },
        ],
        validate: (v) => v.length > 0 || 'Pick at least one port',
      },
      ctx,
    )
  }
  if (detected.length === 0 || picked.includes(BY_HAND)) {
    const typed = await input(
      {
        message: 'Port paths, comma-separated:',
        validate: (v) => {
          const list = splitList(v)
          if (list.length === 0) return 'Type at least one path'
          const missing = list.filter((p) => !existsSync(p))
          return missing.length === 0 || `Not found: ${missing.join(', ')}`
        },
      },
      ctx,
    )
    picked = [...picked.filter((p) => p !== BY_HAND), ...splitList(typed)]
  }
  return picked
}

export const splitList = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)

export async function askProtocol(): Promise<string> {
  return select(
    {
      message: 'Device protocol:',
      choices: [
        { name: 'auto (probe each port and use what answers)', value: 'auto' },
        { name: 'lwprov (open protocol: Anjay, Wakaama, Zephyr firmware)', value: 'lwprov' },
        { name: 'zephyr-shell (Zephyr lwm2m shell)', value: 'zephyr-shell' },
        { name: 'nrf-at (nRF91 modem AT commands)', value: 'nrf-at' },
        { name: 'mcumgr (Anjay-Zephyr factory provisioning over SMP)', value: 'mcumgr' },
        { name: 'fcc (Izuma factory configurator)', value: 'fcc' },
      ],
    },
    ctx,
  )
}

export async function askMode(): Promise<string> {
  return select({ message: 'Account kind:', choices: [{ name: 'bootstrap', value: 'bootstrap' }, { name: 'direct', value: 'direct' }] }, ctx)
}

export async function askSecurity(): Promise<string> {
  return select({ message: 'Security:', choices: [{ name: 'cert (X.509)', value: 'cert' }, { name: 'psk', value: 'psk' }, { name: 'nosec (development only)', value: 'nosec' }] }, ctx)
}

export async function askServer(): Promise<string> {
  return input({ message: 'Server URI (coaps://host:5684):', validate: (v) => /^coaps?(\+tcp)?:\/\/./.test(v.trim()) || 'e.g. coaps://bs.example.com:5684' }, ctx)
}

/** The factory CA directory that signs device certificates. */
export async function askCaDir(): Promise<string> {
  const answer = await input(
    {
      message: 'Factory CA directory (signs the device certificates):',
      validate: (v) => (v.trim() !== '' && existsSync(v.trim())) || `No directory ${v.trim()}`,
    },
    ctx,
  )
  return answer.trim()
}

/** How many devices to do now; defaults to what the work order still needs. */
export async function askCount(remaining: number | undefined): Promise<number | undefined> {
  const n = await number({ message: 'How many devices in this run?', ...(remaining ? { default: remaining } : {}), min: 1, required: false }, ctx)
  return n ?? undefined
}

/** The last word before any device is touched. */
export async function confirmRun(summary: string): Promise<boolean> {
  return confirm({ message: `${summary} Start?`, default: true }, ctx)
}
