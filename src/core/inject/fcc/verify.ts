/**
 * Host-side pre-checks of an FCC bundle, run BEFORE anything is sent to the device. They execute the device model
 * (device.ts: the bundle handler and FCC's Verify, §5/§7) in dry-run mode on an empty store, so a bundle the device
 * would reject fails here first with the very status the device would have returned (E_FCC_CN_MISMATCH,
 * E_FCC_ITEM_NOT_EXIST, E_FCC_URI_WRONG_FORMAT, E_FCC_FIRST_TO_CLAIM_NOT_ALLOWED, E_FCC_KEY_CERT_MISMATCH,
 * E_FCC_INVALID_CERTIFICATE, …): CN = endpoint, EKU clientAuth, aid rules (bootstrap needs `aid=`, first-to-claim
 * forbids it), OU = aid in direct mode, the six device-info items, server CA present, key matches certificate, not
 * expired against the mbed.CurrentTime being sent.
 */
import { createPublicKey, type KeyObject } from 'node:crypto'

// @peculiar/x509 needs the Reflect metadata API, loaded before it (not at CLI start-up: most commands never use it).
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'

import { encodeCbor, type CborValue } from '../../cbor.js'
import { usageError } from '../../errors.js'
import type { CredentialSet, DeviceInfo } from '../../model.js'
import { buildBundle, FccItem, type FccBundleInput } from './bundle.js'
import { FccDevice } from './device.js'
import { fccError, FccStatus, type FccInfoEntry } from './status.js'

export { certFacts, isValidUtcOffset, parsePrivateKeyDer, spkiDer, verifyDeviceConfiguration, FccItemStore } from './kcm.js'
export type { FccCertFacts, FccVerifyOutcome, FccVerifyOptions } from './kcm.js'

export interface FccPrecheckOptions {
  /** Keys the device already holds (on-device key generation): item name → public key, e.g. from the CSR. */
  deviceKeys?: Record<string, KeyObject>
  /** Skip device certificate/key checks (before on-device key generation, when there is no certificate yet). */
  skipDeviceCredentials?: boolean
  /** Device clock if the bundle has no mbed.CurrentTime (default: now). */
  now?: Date
}

/** Warnings FCC would report (e.g. "Item not set:mbed.Timezone"); the bundle is acceptable. */
export interface FccPrecheckResult {
  warnings: FccInfoEntry[]
}

/**
 * Runs FCC's checks on a bundle (object or CBOR bytes) against an empty device. Throws the `LwprovError` of the status
 * the device would return (`details.detectedBy = 'host'`, exit family device).
 */
export async function precheckBundle(bundle: Uint8Array | { [key: string]: CborValue }, opts: FccPrecheckOptions = {}): Promise<FccPrecheckResult> {
  const bytes = bundle instanceof Uint8Array ? bundle : encodeCbor(bundle)
  const now = opts.now ?? new Date()
  const dev = new FccDevice({ dryRun: true, clock: () => now, verify: { skipDeviceCredentials: opts.skipDeviceCredentials } })
  for (const [name, publicKey] of Object.entries(opts.deviceKeys ?? {})) dev.store.keys.set(name, { publicKey, generated: true })
  const r = await dev.handle(bytes)
  if (r.status !== 0) throw fccError(r.status, { item: r.item, detail: r.detail, detectedBy: 'host' })
  return { warnings: r.warnings }
}

/** Convenience: builds the bundle from its inputs and pre-checks it. */
export async function precheckInput(input: FccBundleInput, opts: FccPrecheckOptions = {}): Promise<FccPrecheckResult> {
  return precheckBundle(buildBundle(input), opts)
}

/** Public key of a DER PKCS#10 CSR (for checking the certificate signed from it). */
export function csrPublicKey(csrDer: Uint8Array): KeyObject {
  const csr = new x509.Pkcs10CertificateRequest(Buffer.from(csrDer))
  return createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' })
}

/**
 * Host-only sanity of device information that the device would silently mangle: mbed.MemoryTotalKB is truncated to a
 * uint32 on the device, so larger or fractional values are refused here.
 */
export function checkDeviceInfo(info: DeviceInfo | undefined): void {
  const kb = info?.memoryTotalKb
  if (kb !== undefined && (!Number.isInteger(kb) || kb < 0 || kb > 0xffffffff))
    throw fccError(FccStatus.WRONG_ITEM_DATA_SIZE, {
      item: FccItem.MemoryTotalKB,
      detail: `--memory-total-kb ${kb} is not a whole number of KiB between 0 and 4294967295`,
      detectedBy: 'host',
    })
}

/**
 * What FCC cannot carry at all, checked before building a bundle: Izuma flows are X.509 only (no PSK, no RPK, no
 * NoSec), and without on-device key generation the certificate and key must be there.
 */
export function checkFccCredentials(cs: CredentialSet, opts: { onDeviceKey: boolean }): void {
  if (cs.security !== 'cert')
    throw usageError(
      'E_FCC_SECURITY_UNSUPPORTED',
      `Izuma FCC carries X.509 credentials only; endpoint ${cs.endpoint} uses --security ${cs.security}`,
      'Use --security cert with --protocol fcc, or --protocol lwprov for PSK/RPK/NoSec devices.',
    )
  if (!opts.onDeviceKey && (!cs.certificateDer || !cs.privateKeyDer))
    throw usageError(
      'E_FCC_NO_DEVICE_CERT',
      `endpoint ${cs.endpoint} has no device certificate and private key to send`,
      'Generate certificate credentials (--security cert with --ca), or use on-device key generation.',
    )
}
