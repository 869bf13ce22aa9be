/** Fixed credentials and clock for deterministic devcert renders (test-only keys, see fixtures/README.md). */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import type { CredentialSet, DeviceInfo } from '../../../src/core/model.js'

const dir = join(import.meta.dirname, 'fixtures')
export const CERT_DER = readFileSync(join(dir, 'device-cert.der'))
export const KEY_DER = readFileSync(join(dir, 'device-key.der'))
export const SERVER_CA_DER = readFileSync(join(dir, 'server-ca.der'))
export const ENDPOINT = 'dev-snap-0001'
export const ACCOUNT = '0123456789abcdef0123456789abcdef'
export const NOW = new Date('2026-01-02T03:04:05.000Z')
export const GENERATOR = 'lwprov 0.0.0-test'
/** 32 bytes 0x00..0x1f. */
export const PSK = Buffer.from(Array.from({ length: 32 }, (_, i) => i))

export function certCredential(over: Partial<CredentialSet> = {}): CredentialSet {
  return {
    endpoint: ENDPOINT,
    mode: 'bootstrap',
    security: 'cert',
    serverUri: `coaps://bootstrap.example.com:5684?aid=${ACCOUNT}`,
    certificateDer: CERT_DER,
    privateKeyDer: KEY_DER,
    serverCaDer: SERVER_CA_DER,
    certificateUsage: 2,
    serialHex: '1a2b3c4d5e6f708192a3b4c5d6e7f801',
    fingerprint: createHash('sha256').update(CERT_DER).digest('hex'),
    notAfter: new Date('2036-01-01T00:00:00.000Z'),
    accountId: ACCOUNT,
    shortServerId: 1,
    lifetime: 86400,
    binding: 'U',
    notificationStoring: false,
    ...over,
  }
}

export function pskCredential(over: Partial<CredentialSet> = {}): CredentialSet {
  return {
    endpoint: ENDPOINT,
    mode: 'direct',
    security: 'psk',
    serverUri: 'coaps://lwm2m.example.com:5684',
    pskIdentity: ENDPOINT,
    psk: PSK,
    shortServerId: 101,
    lifetime: 3600,
    binding: 'UQ',
    notificationStoring: false,
    ...over,
  }
}

export const DEVICE: DeviceInfo = {
  manufacturer: 'Acme "Labs"',
  modelNumber: 'AX-1',
  deviceType: 'sensor',
  hardwareVersion: 'rev B',
  serialNumber: 'SN-0001',
  memoryTotalKb: 512,
}
