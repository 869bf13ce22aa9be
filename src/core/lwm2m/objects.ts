/**
 * Resource tables of the two objects lwprov provisions: Security /0 and Server /1 (OMA registry 0.xml / 1.xml,
 * object version 1.2; see docs/lwm2m.md §1 and §4).
 *
 * `supported` marks what an Anjay-class factory-provisioning client accepts in a local bootstrap write
 * (vectors/senml README): a resource outside that set fails the whole payload on the device, so the decoders
 * reject it too and lwprov never emits it.
 */

/** Object IDs. */
export const OBJECT = { security: 0, server: 1 } as const

/** /0/x/2 Security Mode values (docs/lwm2m.md §2). */
export const SECURITY_MODE = { psk: 0, rpk: 1, cert: 2, nosec: 3, est: 4 } as const
export type SecurityModeName = keyof typeof SECURITY_MODE

/** /0/x/15 Certificate Usage values (RFC 6698 semantics, docs/lwm2m.md §3). 3 is the client default. */
export const CERTIFICATE_USAGE = { caConstraint: 0, serviceCertificateConstraint: 1, trustAnchorAssertion: 2, domainIssuedCertificate: 3 } as const

/** Security object /0 resource IDs. */
export const SECURITY_RES = {
  serverUri: 0,
  bootstrapServer: 1,
  securityMode: 2,
  publicKeyOrIdentity: 3,
  serverPublicKey: 4,
  secretKey: 5,
  smsSecurityMode: 6,
  smsBindingKeyParameters: 7,
  smsBindingSecretKeys: 8,
  serverSmsNumber: 9,
  shortServerId: 10,
  clientHoldOffTime: 11,
  bootstrapServerAccountTimeout: 12,
  matchingType: 13,
  sni: 14,
  certificateUsage: 15,
  ciphersuite: 16,
  oscoreSecurityMode: 17,
} as const

/** Server object /1 resource IDs. */
export const SERVER_RES = {
  shortServerId: 0,
  lifetime: 1,
  defaultMinimumPeriod: 2,
  defaultMaximumPeriod: 3,
  disable: 4,
  disableTimeout: 5,
  notificationStoring: 6,
  binding: 7,
  registrationUpdateTrigger: 8,
  bootstrapRequestTrigger: 9,
  apnLink: 10,
  tlsDtlsAlertCode: 11,
  lastBootstrapped: 12,
  registrationPriorityOrder: 13,
  initialRegistrationDelayTimer: 14,
  registrationFailureBlock: 15,
  bootstrapOnRegistrationFailure: 16,
  communicationRetryCount: 17,
  communicationRetryTimer: 18,
  communicationSequenceDelayTimer: 19,
  communicationSequenceRetryCount: 20,
} as const

/** LwM2M data types lwprov distinguishes; each maps to one SenML value label and one TLV value encoding. */
export type ResourceType = 'string' | 'boolean' | 'integer' | 'unsigned' | 'opaque' | 'objlnk' | 'time' | 'none'

export interface ResourceDef {
  id: number
  name: string
  type: ResourceType
  /** Mandatory in the OMA object definition. */
  mandatory: boolean
  multiple: boolean
  /** Writable in an Anjay-class factory (local bootstrap) write. */
  supported: boolean
  /** Inclusive value range for integers. */
  range?: readonly [number, number]
}

const def = (
  id: number,
  name: string,
  type: ResourceType,
  o: { mandatory?: boolean; multiple?: boolean; supported?: boolean; range?: readonly [number, number] } = {},
): ResourceDef => ({
  id,
  name,
  type,
  mandatory: o.mandatory ?? false,
  multiple: o.multiple ?? false,
  supported: o.supported ?? false,
  ...(o.range ? { range: o.range } : {}),
})

const U16 = [0, 65535] as const
const U32 = [0, 0xffffffff] as const

/** Security /0 resources (docs/lwm2m.md §1). */
export const SECURITY_RESOURCES: readonly ResourceDef[] = [
  def(0, 'LwM2M Server URI', 'string', { mandatory: true, supported: true }),
  def(1, 'Bootstrap-Server', 'boolean', { mandatory: true, supported: true }),
  def(2, 'Security Mode', 'integer', { mandatory: true, supported: true, range: [0, 4] }),
  def(3, 'Public Key or Identity', 'opaque', { mandatory: true, supported: true }),
  def(4, 'Server Public Key', 'opaque', { mandatory: true, supported: true }),
  def(5, 'Secret Key', 'opaque', { mandatory: true, supported: true }),
  // Not implemented by the reference client: writing it fails the payload (vectors README, "unknown resources").
  def(6, 'SMS Security Mode', 'integer', { range: [0, 255] }),
  def(7, 'SMS Binding Key Parameters', 'opaque'),
  def(8, 'SMS Binding Secret Key(s)', 'opaque'),
  def(9, 'LwM2M Server SMS Number', 'string'),
  def(10, 'Short Server ID', 'integer', { supported: true, range: [1, 65534] }),
  def(11, 'Client Hold Off Time', 'integer', { supported: true, range: U32 }),
  def(12, 'Bootstrap-Server Account Timeout', 'integer', { supported: true, range: U32 }),
  def(13, 'Matching Type', 'unsigned', { supported: true, range: [0, 3] }),
  def(14, 'SNI', 'string', { supported: true }),
  def(15, 'Certificate Usage', 'unsigned', { supported: true, range: [0, 3] }),
  def(16, 'DTLS/TLS Ciphersuite', 'unsigned', { multiple: true }),
  def(17, 'OSCORE Security Mode', 'objlnk'),
]

/** Server /1 resources (docs/lwm2m.md §4). */
export const SERVER_RESOURCES: readonly ResourceDef[] = [
  def(0, 'Short Server ID', 'integer', { mandatory: true, supported: true, range: [1, 65534] }),
  def(1, 'Lifetime', 'integer', { mandatory: true, supported: true, range: U32 }),
  def(2, 'Default Minimum Period', 'integer', { supported: true, range: U32 }),
  def(3, 'Default Maximum Period', 'integer', { supported: true, range: U32 }),
  def(4, 'Disable', 'none'),
  def(5, 'Disable Timeout', 'integer', { supported: true, range: U32 }),
  def(6, 'Notification Storing When Disabled or Offline', 'boolean', { mandatory: true, supported: true }),
  def(7, 'Binding', 'string', { mandatory: true, supported: true }),
  def(8, 'Registration Update Trigger', 'none', { mandatory: true }),
  def(9, 'Bootstrap-Request Trigger', 'none'),
  def(10, 'APN Link', 'objlnk'),
  def(11, 'TLS-DTLS Alert Code', 'unsigned'),
  def(12, 'Last Bootstrapped', 'time'),
  // Rejected by the reference client (vector 95).
  def(13, 'Registration Priority Order', 'unsigned'),
  def(14, 'Initial Registration Delay Timer', 'unsigned'),
  def(15, 'Registration Failure Block', 'boolean'),
  def(16, 'Bootstrap on Registration Failure', 'boolean', { supported: true }),
  def(17, 'Communication Retry Count', 'unsigned', { supported: true, range: U16 }),
  def(18, 'Communication Retry Timer', 'unsigned'),
  def(19, 'Communication Sequence Delay Timer', 'unsigned'),
  def(20, 'Communication Sequence Retry Count', 'unsigned'),
]

const byId = (defs: readonly ResourceDef[]) => {
  const out: (ResourceDef | undefined)[] = []
  for (const d of defs) out[d.id] = d
  return out
}
const SECURITY_BY_ID = byId(SECURITY_RESOURCES)
const SERVER_BY_ID = byId(SERVER_RESOURCES)

/** The definition of /oid/x/rid, or undefined for objects other than /0 and /1 and for unknown resource IDs. */
export function resourceDef(oid: number, rid: number): ResourceDef | undefined {
  if (oid === OBJECT.security) return SECURITY_BY_ID[rid]
  if (oid === OBJECT.server) return SERVER_BY_ID[rid]
  return undefined
}

/** Security mode name for a /0/x/2 value (undefined when out of range). */
export function securityModeName(mode: number): SecurityModeName | undefined {
  for (const [k, v] of Object.entries(SECURITY_MODE)) if (v === mode) return k as SecurityModeName
  return undefined
}
