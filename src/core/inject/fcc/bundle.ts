/**
 * The FCC CBOR bundle, scheme "0.0.1" (izuma-fcc.md §5–§6), exactly as FCC accepts it: a definite-length top map of at
 * most 12 keys, `SchemeVersion` first and `SID` right after it (the device echoes SID only if it read it before
 * failing), then `Keys`, `Certificates`, `ConfigParams`, flags; booleans as integers 0/1, `"der"` only, no ACL.
 *
 * The key order is the one of the captured vectors, so `encodeBundle` reproduces them byte for byte (the CBOR codec
 * writes definite lengths, shortest heads and plain-object keys in insertion order).
 */
import { createHash } from 'node:crypto'

import { encodeCbor, type CborValue } from '../../cbor.js'
import { usageError } from '../../errors.js'
import type { AccountMode, DeviceInfo } from '../../model.js'

export const FCC_SCHEME_VERSION = '0.0.1'
/** `FCC_MAX_KEYS_IN_MAP`. */
export const FCC_MAX_KEYS_IN_MAP = 12
/** At most this many `CsrReqs` per message. */
export const FCC_MAX_CSR_REQUESTS = 5

/** Standard item names (`factory_configurator_client.c`). */
export const FccItem = {
  UseBootstrap: 'mbed.UseBootstrap',
  EndpointName: 'mbed.EndpointName',
  AccountId: 'mbed.AccountID',
  FirstToClaim: 'mbed.FirstToClaim',
  Manufacturer: 'mbed.Manufacturer',
  ModelNumber: 'mbed.ModelNumber',
  DeviceType: 'mbed.DeviceType',
  HardwareVersion: 'mbed.HardwareVersion',
  SerialNumber: 'mbed.SerialNumber',
  MemoryTotalKB: 'mbed.MemoryTotalKB',
  CurrentTime: 'mbed.CurrentTime',
  Timezone: 'mbed.Timezone',
  UTCOffset: 'mbed.UTCOffset',
  VendorId: 'mbed.VendorId',
  ClassId: 'mbed.ClassId',
  UpdateAuthCert: 'mbed.UpdateAuthCert',
  BootstrapServerURI: 'mbed.BootstrapServerURI',
  BootstrapServerCACert: 'mbed.BootstrapServerCACert',
  BootstrapDeviceCert: 'mbed.BootstrapDeviceCert',
  BootstrapDevicePrivateKey: 'mbed.BootstrapDevicePrivateKey',
  LwM2MServerURI: 'mbed.LwM2MServerURI',
  LwM2MServerCACert: 'mbed.LwM2MServerCACert',
  LwM2MDeviceCert: 'mbed.LwM2MDeviceCert',
  LwM2MDevicePrivateKey: 'mbed.LwM2MDevicePrivateKey',
} as const

/** The item names of one account mode. */
export interface FccModeItems {
  uri: string
  serverCa: string
  deviceCert: string
  deviceKey: string
}

/** Item names for bootstrap (`mbed.Bootstrap*`) or direct LwM2M (`mbed.LwM2M*`) mode. */
export function modeItems(mode: AccountMode): FccModeItems {
  return mode === 'bootstrap'
    ? {
        uri: FccItem.BootstrapServerURI,
        serverCa: FccItem.BootstrapServerCACert,
        deviceCert: FccItem.BootstrapDeviceCert,
        deviceKey: FccItem.BootstrapDevicePrivateKey,
      }
    : {
        uri: FccItem.LwM2MServerURI,
        serverCa: FccItem.LwM2MServerCACert,
        deviceCert: FccItem.LwM2MDeviceCert,
        deviceKey: FccItem.LwM2MDevicePrivateKey,
      }
}

/** `Ext.KU` bits of a CSR request. */
export const CsrKeyUsage = { digitalSignature: 1, nonRepudiation: 2, keyCertSign: 4, keyAgreement: 8 } as const
/** `Ext.EKU` bits of a CSR request. */
export const CsrExtKeyUsage = { any: 1, serverAuth: 2, clientAuth: 4, codeSigning: 8, email: 16, timeStamping: 256, ocsp: 512 } as const

/** Input of `buildBundle`: one device's items for one message. */
export interface FccBundleInput {
  mode: AccountMode
  endpoint: string
  /** Bootstrap or LwM2M server URI (`?aid=` rules are checked by `precheckBundle`, not here). */
  serverUri: string
  /** DER of the server CA (mbed.BootstrapServerCACert / mbed.LwM2MServerCACert). */
  serverCaDer?: Uint8Array
  /** Device certificate DER. */
  certificateDer?: Uint8Array
  /** Device private key DER (SEC1 or PKCS#8, sent as is). Absent with on-device key generation. */
  privateKeyDer?: Uint8Array
  /**
   * On-device key generation, second message: name of the device-generated key the certificate belongs to (`PrKN`),
   * which makes FCC check the certificate against it.
   */
  certificateKeyName?: string
  firstToClaim?: boolean
  deviceInfo?: DeviceInfo
  /** mbed.CurrentTime in Unix seconds (or a Date); omitted when undefined. */
  currentTime?: number | Date
  /** Session id, echoed by the device. */
  sid?: string
  /** 16 raw bytes each (optional items; the device only warns when absent). */
  vendorId?: Uint8Array
  classId?: Uint8Array
  /** `Verify`: omitted by default (the device defaults to 1). */
  verify?: 0 | 1
  /** `KpAlvSess: 1`: more messages follow on this connection. */
  keepAlive?: boolean
  /** Override of `SchemeVersion` (tests only; FCC accepts only "0.0.1"). */
  schemeVersion?: string
}

/** One CSR request of on-device key generation. */
export interface FccCsrRequest {
  /** Name of the key the device generates (PrKN). */
  keyName: string
  /** Subject, e.g. `CN=endpoint` or `CN=endpoint,OU=aid`. */
  subject: string
  /** KU bitmask (default digitalSignature). */
  keyUsage?: number
  /** EKU bitmask (default clientAuth). */
  extKeyUsage?: number
}

type Obj = { [key: string]: CborValue }

const unixSeconds = (t: number | Date) => (typeof t === 'number' ? t : Math.floor(t.getTime() / 1000))

/** The ConfigParams items of the six device-info items plus the optional time items, in vector order. */
function deviceInfoParams(info: DeviceInfo | undefined): Obj[] {
  const out: Obj[] = []
  const push = (name: string, data: CborValue | undefined) => {
    if (data !== undefined) out.push({ Name: name, Data: data })
  }
  push(FccItem.Manufacturer, info?.manufacturer)
  push(FccItem.ModelNumber, info?.modelNumber)
  push(FccItem.DeviceType, info?.deviceType)
  push(FccItem.HardwareVersion, info?.hardwareVersion)
  push(FccItem.SerialNumber, info?.serialNumber)
  push(FccItem.MemoryTotalKB, info?.memoryTotalKb)
  push(FccItem.Timezone, info?.timezone)
  push(FccItem.UTCOffset, info?.utcOffset)
  return out
}

/**
 * Builds the bundle as a plain object (key order = wire order): bootstrap, direct LwM2M or first-to-claim, depending on
 * `mode` / `firstToClaim`. Missing optional inputs are left out; `precheckBundle` says whether FCC would accept it.
 */
export function buildBundle(input: FccBundleInput): Obj {
  const items = modeItems(input.mode)
  const b: Obj = { SchemeVersion: input.schemeVersion ?? FCC_SCHEME_VERSION }
  if (input.sid !== undefined) b.SID = input.sid
  if (input.keepAlive) b.KpAlvSess = 1

  if (input.privateKeyDer) {
    b.Keys = [{ Name: items.deviceKey, Type: 'ECCPrivate', Format: 'der', Data: Buffer.from(input.privateKeyDer) }]
  }
  const certs: Obj[] = []
  if (input.certificateDer) {
    const c: Obj = { Name: items.deviceCert, Format: 'der', Data: Buffer.from(input.certificateDer) }
    if (input.certificateKeyName) c.PrKN = input.certificateKeyName
    certs.push(c)
  }
  if (input.serverCaDer) certs.push({ Name: items.serverCa, Format: 'der', Data: Buffer.from(input.serverCaDer) })
  if (certs.length > 0) b.Certificates = certs

  const params: Obj[] = [{ Name: FccItem.UseBootstrap, Data: input.mode === 'bootstrap' ? 1 : 0 }]
  if (input.firstToClaim) params.push({ Name: FccItem.FirstToClaim, Data: 1 })
  params.push({ Name: FccItem.EndpointName, Data: input.endpoint })
  params.push({ Name: items.uri, Data: input.serverUri })
  params.push(...deviceInfoParams(input.deviceInfo))
  if (input.vendorId) params.push({ Name: FccItem.VendorId, Data: Buffer.from(input.vendorId) })
  if (input.classId) params.push({ Name: FccItem.ClassId, Data: Buffer.from(input.classId) })
  if (input.currentTime !== undefined) params.push({ Name: FccItem.CurrentTime, Data: unixSeconds(input.currentTime) })
  b.ConfigParams = params

  if (input.verify !== undefined) b.Verify = input.verify
  return b
}

/**
 * First message of on-device key generation: `{SchemeVersion, SID, KpAlvSess: 1, Verify: 0, CsrReqs}`. FCC requires
 * the SID and an explicit `Verify: 0` with `CsrReqs` (otherwise ReturnStatus 20).
 */
export function buildCsrBundle(opts: { sid: string; requests: FccCsrRequest[]; schemeVersion?: string }): Obj {
  return {
    SchemeVersion: opts.schemeVersion ?? FCC_SCHEME_VERSION,
    SID: opts.sid,
    KpAlvSess: 1,
    Verify: 0,
    CsrReqs: opts.requests.map((r) => ({
      PrKN: r.keyName,
      Subj: r.subject,
      MD: 1,
      Ext: { KU: r.keyUsage ?? CsrKeyUsage.digitalSignature, EKU: r.extKeyUsage ?? CsrExtKeyUsage.clientAuth },
    })),
  }
}

/** Encodes a bundle object (definite lengths, key order kept). */
export function encodeBundle(bundle: Obj): Buffer {
  return encodeCbor(bundle)
}

/**
 * Izuma enrollment identity of a device certificate: `A-` + SHA-256 of the certificate DER as 32 lowercase hex pairs
 * joined by `:` (97 characters). The hash is inferred (izuma-fcc.md §10: "fingerprint of the device bootstrap
 * certificate"); lowercase is what the SDK examples show.
 */
export function enrollmentId(certificateDer: Uint8Array): string {
  const hex = createHash('sha256').update(certificateDer).digest('hex')
  return `A-${hex.match(/../g)!.join(':')}`
}

/** The `aid` query parameter of a server URI, or undefined (FCC accepts `?aid=` and `&aid=`). */
export function uriAccountId(uri: string): string | undefined {
  const m = /[?&]aid=([^&#]*)/.exec(uri)
  return m ? m[1] : undefined
}

/**
 * Izuma needs the account id in the server URI (`aid=`); an operator gives it once with --account-id. Adds it to a URI
 * without one, refuses a URI whose aid disagrees; first-to-claim URIs carry none and are left alone.
 */
export function withAccountId<P extends { serverUri: string; accountId?: string }>(profile: P, firstToClaim: boolean): P {
  if (!profile.accountId || firstToClaim) return profile
  const inUri = uriAccountId(profile.serverUri)
  if (inUri === undefined) {
    const sep = profile.serverUri.includes('?') ? '&' : '?'
    return { ...profile, serverUri: `${profile.serverUri}${sep}aid=${encodeURIComponent(profile.accountId)}` }
  }
  if (inUri !== profile.accountId) {
    throw usageError(
      'E_ACCOUNT_ID_MISMATCH',
      `--account-id ${profile.accountId} differs from the aid=${inUri} in the server URI.`,
      'Give the same account id in both, or drop one of them (lwprov adds aid= from --account-id).',
    )
  }
  return profile
}
