/**
 * The common currency between the domain modules: what a device's credentials are (independent of how they are
 * encoded for SenML-CBOR, an FCC bundle or a firmware source file) and the profile they are generated from.
 */

/** Account kind: a bootstrap account (/0 with Bootstrap-Server = true, no /1) or a direct LwM2M account (/0 + /1). */
export type AccountMode = 'bootstrap' | 'direct'
/** Security mode as lwprov names it; numeric /0/x/2 values are in `lwm2m/objects.ts`. */
export type SecurityKind = 'psk' | 'cert' | 'rpk' | 'nosec'

/** Device information Izuma FCC requires (the six mandatory items plus optional time settings). */
export interface DeviceInfo {
  manufacturer?: string
  modelNumber?: string
  deviceType?: string
  hardwareVersion?: string
  /** Total memory in KiB. */
  memoryTotalKb?: number
  serialNumber?: string
  timezone?: string
  utcOffset?: string
}

/** How credentials are to be generated: the "credential profile" flag group of docs/cli.md. */
export interface CredentialProfile {
  mode: AccountMode
  security: SecurityKind
  /** LwM2M server or bootstrap-server URI (/0/x/0). */
  serverUri: string
  /** DER of the server's trust anchor or certificate (/0/x/4), certificate mode only. */
  serverCaDer?: Uint8Array
  /** /0/x/15; 2 (DANE-TA) when a server CA is given unless overridden. */
  certificateUsage?: number
  /** Certificate validity in days. */
  days: number
  /** Izuma account id: certificate OU and `aid=` in bootstrap URIs. */
  accountId?: string
  /** /0/x/10 and /1/y/0 for direct accounts. */
  shortServerId: number
  /** /1/y/1 in seconds. */
  lifetime: number
  /** /1/y/7. */
  binding: string
  /** /1/y/6. */
  notificationStoring: boolean
  /** PSK length in bytes (>= 16). */
  pskBytes: number
  /** PSK identity: the endpoint name, or random base64url. */
  pskIdentity: 'endpoint' | 'random'
}

/** One device's credentials, in memory. Secrets live here only until they are sealed or injected. */
export interface CredentialSet {
  endpoint: string
  mode: AccountMode
  security: SecurityKind
  serverUri: string
  /** PSK identity (UTF-8 text; /0/x/3 carries its bytes). */
  pskIdentity?: string
  /** Raw PSK bytes (/0/x/5). Secret. */
  psk?: Uint8Array
  /** Device certificate DER (/0/x/3 in cert mode). */
  certificateDer?: Uint8Array
  /** Device private key, PKCS#8 DER (/0/x/5 in cert mode). Secret; absent with on-device key generation. */
  privateKeyDer?: Uint8Array
  /** Issuing chain, leaf's issuer first, up to the root. */
  chainDer?: Uint8Array[]
  serverCaDer?: Uint8Array
  certificateUsage?: number
  /** Certificate serial number, lowercase hex. */
  serialHex?: string
  /** SHA-256 of the certificate DER, lowercase hex. */
  fingerprint?: string
  /** Certificate notAfter. */
  notAfter?: Date
  accountId?: string
  shortServerId: number
  lifetime: number
  binding: string
  notificationStoring: boolean
}

export const DEFAULT_PROFILE: Omit<CredentialProfile, 'mode' | 'security' | 'serverUri'> = {
  days: 3653,
  shortServerId: 1,
  lifetime: 86400,
  binding: 'U',
  notificationStoring: false,
  pskBytes: 32,
  pskIdentity: 'endpoint',
}
