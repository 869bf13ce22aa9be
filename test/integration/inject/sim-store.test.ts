/**
 * `lwprov sim --store FILE`: the committed payload (credentials) lands in a 0600 file even when the file existed with
 * looser permissions, and an unwritable path is logged instead of crashing the device callback.
 */
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

import { afterEach, describe, expect, it } from 'vitest'

import { startSimulator, type Simulator } from '../../../src/adapters/sim-runner.js'
import type { SimDevice, SimDeviceOptions } from '../../../src/core/inject/faults.js'

/** A device that "commits" whatever it receives and answers OK. */
function storingDevice(o: SimDeviceOptions): SimDevice {
  const send: Array<(b: Buffer) => void> = []
  return {
    receive: (chunk) => {
      o.store?.(Buffer.from(chunk))
      for (const s of send) s(Buffer.from('OK\n'))
    },
    onSend: (cb) => void send.push(cb),
    reset: () => {},
  }
}

let sim: Simulator | undefined
afterEach(async () => {
  await sim?.close()
  sim = undefined
})

/** Sends one payload to the simulator and waits for its answer. */
async function sendOnce(port: number, payload: string): Promise<string> {
  const sock = net.connect(port, '127.0.0.1')
  try {
    return await new Promise<string>((resolve, reject) => {
      sock.on('error', reject)
      sock.on('data', (d) => resolve(d.toString()))
      sock.on('connect', () => sock.write(payload))
    })
  } finally {
    sock.destroy()
  }
}

describe('simulator store file', () => {
  it('an existing store file is kept without --force; with it, it ends up 0600 with the stored bytes', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwprov-sim-store-'))
    const file = path.join(dir, 'device.bin')
    fs.writeFileSync(file, 'old', { mode: 0o644 })
    fs.chmodSync(file, 0o644)
    const log: string[] = []
    sim = await startSimulator({ protocol: 'lwprov', tcpPort: 0, serial: 'STORE-0', storeFile: file, createDevice: storingDevice, log: (l) => log.push(l) })
    expect(await sendOnce(sim.port!, 'secret-credentials')).toBe('OK\n')
    expect(log.some((l) => l.includes('could not write the store file'))).toBe(true)
    expect(fs.readFileSync(file, 'utf8')).toBe('old')
    await sim.close()
    sim = await startSimulator({ protocol: 'lwprov', tcpPort: 0, serial: 'STORE-1', storeFile: file, storeForce: true, createDevice: storingDevice })
    const stored = new Promise<{ bytes: Buffer }>((r) => sim!.once('stored', r))
    expect(await sendOnce(sim.port!, 'secret-credentials')).toBe('OK\n')
    expect((await stored).bytes.toString()).toBe('secret-credentials')
    expect(fs.readFileSync(file, 'utf8')).toBe('secret-credentials')
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
  })

  it('a store path that cannot be written is logged; the device still answers and the simulator keeps running', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwprov-sim-store-'))
    fs.writeFileSync(path.join(dir, 'a-file'), 'x')
    const bad = path.join(dir, 'a-file', 'device.bin')
    const log: string[] = []
    sim = await startSimulator({ protocol: 'lwprov', tcpPort: 0, serial: 'STORE-2', storeFile: bad, createDevice: storingDevice, log: (l) => log.push(l) })
    expect(await sendOnce(sim.port!, 'one')).toBe('OK\n')
    expect(await sendOnce(sim.port!, 'two')).toBe('OK\n')
    expect(log.some((l) => l.includes('could not write the store file') && l.includes(bad))).toBe(true)
    expect(fs.existsSync(bad)).toBe(false)
  })
})
