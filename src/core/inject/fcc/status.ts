/**
 * `fcc_status_e` (FCC `fcc_status.h`): the ReturnStatus of an FCC response, with what it means on the factory floor
 * and what the operator should do. The same `E_FCC_…` code is used whether the device reported the problem or lwprov's
 * host-side pre-check found it first, so scripts see one code per cause.
 */
import { LwprovError, type ExitCodeName } from '../../errors.js'
import { ftcdStatusInfo, FtcdStatus } from './frame.js'

export interface FccStatusInfo {
  /** Numeric `fcc_status_e` value. */
  code: number
  /** `FCC_STATUS_…` name as in fcc_status.h. */
  name: string
  /** Stable lwprov error code. */
  errorCode: string
  /** What the status means. */
  message: string
  /** What to do about it. */
  hint: string
  /**
   * The device's `InfoMessage` prefix for this status (`fcc_output_info_handler.c`); statuses the vectors show as
   * "General error" use that.
   */
  infoPrefix: string
}

const CHECK_CREDS = 'Check the credentials and device information lwprov was given, then re-run inject.'

const TABLE: Array<[number, string, string, string, string, string]> = [
  // [code, FCC_STATUS_ suffix, E_FCC_ suffix, message, hint, info prefix]
  [0, 'SUCCESS', 'SUCCESS', 'the factory process succeeded', '', 'The Factory process succeeded'],
  [1, 'ERROR', 'ERROR', 'the device reported a general FCC error', 'Look at the device log for the cause, power-cycle the device and retry.', 'General error'],
  [2, 'MEMORY_OUT', 'MEMORY_OUT', 'the device ran out of memory while processing the bundle', 'Reset the device and retry; if it persists the factory image needs more heap.', 'Out of memory'],
  [3, 'INVALID_PARAMETER', 'INVALID_PARAMETER', 'the device rejected a parameter of the bundle', CHECK_CREDS, 'Invalid parameter'],
  [4, 'STORE_ERROR', 'STORE_ERROR', 'the device could not store an item', 'The device storage may be full or failing: erase it (or reflash the factory image) and retry.', 'Storage error'],
  [5, 'INTERNAL_ITEM_ALREADY_EXIST', 'ITEM_ALREADY_EXISTS', 'an item already exists on the device and cannot be overwritten', 'Start a new provisioning session (reset the device) so FCC wipes its storage, then retry.', 'Item already exists'],
  [6, 'CA_ERROR', 'CA_ERROR', 'the device rejected a CA certificate', 'Check --server-ca: it must be the DER/PEM certificate of the server CA.', 'CA error'],
  [7, 'ROT_ERROR', 'ROT_ERROR', 'the device rejected the root of trust (already set, or not 16 bytes)', 'A device accepts the ROT once; reflash the factory image to start over.', 'RoT error'],
  [8, 'ENTROPY_ERROR', 'ENTROPY_ERROR', 'the device rejected the entropy (already set, or not 48 bytes)', 'A device accepts entropy once; reflash the factory image to start over.', 'Entropy error'],
  [9, 'FACTORY_DISABLED_ERROR', 'FACTORY_DISABLED', 'the factory flow is permanently disabled on this device', 'This device was already finalised; it cannot be provisioned again with FCC.', 'Factory disabled'],
  [10, 'INVALID_CERTIFICATE', 'INVALID_CERTIFICATE', 'the device certificate is invalid (unparsable, or without extended key usage clientAuth)', 'Issue the device certificate with EKU clientAuth from a P-256 CA (lwprov credentials generate does this).', 'Invalid certificate'],
  [11, 'INVALID_CERT_ATTRIBUTE', 'INVALID_CERT_ATTRIBUTE', 'a certificate attribute is invalid', CHECK_CREDS, 'Invalid certificate attribute'],
  [12, 'INVALID_CA_CERT_SIGNATURE', 'INVALID_CA_SIGNATURE', 'a CA certificate signature does not verify', 'Check the CA certificate files; they may be truncated or mixed up.', 'Invalid CA certificate signature'],
  [13, 'EXPIRED_CERTIFICATE', 'EXPIRED_CERTIFICATE', 'a certificate has expired (against the time lwprov sent as mbed.CurrentTime)', 'Issue a new certificate, and check the host clock.', 'Expired certificate'],
  [14, 'INVALID_LWM2M_CN_ATTR', 'CN_MISMATCH', 'the device certificate CN is not the endpoint name (or, in direct LwM2M mode, its OU is not the aid of the server URI)', 'Issue the certificate for this endpoint (CN = endpoint name; OU = account id for direct LwM2M) and re-run inject.', 'Certificate CN attribute invalid'],
  [15, 'KCM_ERROR', 'KCM_ERROR', 'the key and configuration manager on the device failed', 'Reset the device and retry; see the device log.', 'KCM error'],
  [16, 'KCM_STORAGE_ERROR', 'KCM_STORAGE_ERROR', 'the device storage failed while writing an item', 'The device flash may be failing: erase it (or reflash the factory image) and retry; replace the device if it persists.', 'KCM storage error'],
  [17, 'KCM_FILE_EXIST_ERROR', 'KCM_FILE_EXISTS', 'an item with the same name already exists on the device', 'Start a new provisioning session (reset the device) so FCC wipes its storage, then retry.', 'KCM file exists'],
  [18, 'KCM_CRYPTO_ERROR', 'KCM_CRYPTO_ERROR', 'the device could not parse or use a key or certificate', 'Send EC P-256 keys (SEC1 or PKCS#8 DER) and DER certificates only.', 'KCM crypto error'],
  [19, 'NOT_INITIALIZED', 'NOT_INITIALIZED', 'FCC is not initialised on the device', 'The factory image did not call fcc_init(); check the firmware.', 'Not initialized'],
  [20, 'BUNDLE_ERROR', 'BUNDLE_ERROR', 'the device could not parse the bundle', 'This is an lwprov/firmware incompatibility: report it with the device log.', 'General error'],
  [21, 'BUNDLE_RESPONSE_ERROR', 'BUNDLE_RESPONSE_ERROR', 'the device could not build its response', 'Reset the device and retry; see the device log.', 'General error'],
  [22, 'BUNDLE_UNSUPPORTED_GROUP', 'BUNDLE_UNSUPPORTED_GROUP', 'the bundle holds a group this firmware does not support', 'Upgrade the factory image or leave the feature out.', 'General error'],
  [23, 'BUNDLE_INVALID_GROUP', 'BUNDLE_INVALID_GROUP', 'the bundle holds an unknown group', 'This is an lwprov/firmware incompatibility: report it with the device log.', 'General error'],
  [24, 'BUNDLE_INVALID_SCHEME', 'BUNDLE_INVALID_SCHEME', 'the bundle scheme version is not "0.0.1"', 'The firmware speaks a different FCC bundle scheme; check its mbed-cloud-client version.', 'General error'],
  [25, 'ITEM_NOT_EXIST', 'ITEM_NOT_EXIST', 'a mandatory item is missing', 'Pass the missing item (device information: --manufacturer, --model-number, --device-type, --hardware-version, --memory-total-kb, --serial-number; server CA: --server-ca).', 'Item does not exist'],
  [26, 'EMPTY_ITEM', 'EMPTY_ITEM', 'a mandatory item is empty', 'Give the item a non-empty value.', 'Empty item'],
  [27, 'WRONG_ITEM_DATA_SIZE', 'WRONG_ITEM_DATA_SIZE', 'an item has the wrong size (ClassId/VendorId must be 16 bytes)', 'Check the size of the named item.', 'Wrong item size'],
  [28, 'URI_WRONG_FORMAT', 'URI_WRONG_FORMAT', 'the server URI is malformed (coap:// or coaps:// with ?aid=<account id> unless first-to-claim)', 'Use coaps://HOST:PORT?aid=<32-hex account id> (or --first-to-claim without aid for bootstrap).', 'URI format incorrect'],
  [29, 'FIRST_TO_CLAIM_NOT_ALLOWED', 'FIRST_TO_CLAIM_NOT_ALLOWED', 'first-to-claim is not allowed with this configuration (the bootstrap URI carries an aid, or the mode is direct LwM2M)', 'For first-to-claim use bootstrap mode and a bootstrap server URI without aid=.', 'first to claim not allowed'],
  [30, 'BOOTSTRAP_MODE_ERROR', 'BOOTSTRAP_MODE_ERROR', 'mbed.UseBootstrap is missing or not 0/1', 'This is an lwprov/firmware incompatibility: report it with the device log.', 'Bootstrap mode error'],
  [31, 'OUTPUT_INFO_ERROR', 'OUTPUT_INFO_ERROR', 'the device failed to record its output information', 'Reset the device and retry.', 'General error'],
  [32, 'WARNING_CREATE_ERROR', 'WARNING_CREATE_ERROR', 'the device failed to record a warning', 'Reset the device and retry.', 'General error'],
  [33, 'UTC_OFFSET_WRONG_FORMAT', 'UTC_OFFSET_WRONG_FORMAT', 'the UTC offset is not +HH:MM between -12:00 and +14:00', 'Pass --utc-offset like +02:00 or -05:30.', 'UTC offset wrong format'],
  [34, 'CERTIFICATE_PUBLIC_KEY_CORRELATION_ERROR', 'KEY_CERT_MISMATCH', 'the device certificate does not match the private key (host key, or the key the device generated)', 'Send the certificate issued for this key; with on-device key generation sign the CSR the device returned in this session.', 'Self-generated certificate validation failed'],
  [35, 'BUNDLE_INVALID_KEEP_ALIVE_SESSION_STATUS', 'BAD_KEEP_ALIVE', 'keep-alive session flags are inconsistent (e.g. Disable with KpAlvSess)', 'This is an lwprov/firmware incompatibility: report it with the device log.', 'General error'],
  [36, 'TOO_MANY_CSR_REQUESTS', 'TOO_MANY_CSR_REQUESTS', 'more than 5 CSR requests in one bundle', 'Request at most 5 CSRs per message.', 'General error'],
  [37, 'NOT_SUPPORTED', 'NOT_SUPPORTED', 'the bundle uses a field or format this firmware does not support (e.g. an ACL field, PEM instead of DER)', 'This is an lwprov/firmware incompatibility: report it with the device log.', 'General error'],
]

/** Every `fcc_status_e`, indexed by numeric value. */
export const FCC_STATUSES: ReadonlyMap<number, FccStatusInfo> = new Map(
  TABLE.map(([code, name, err, message, hint, infoPrefix]) => [
    code,
    { code, name: `FCC_STATUS_${name}`, errorCode: `E_FCC_${err}`, message, hint, infoPrefix },
  ]),
)

/** Named values of `fcc_status_e` used in code. */
export const FccStatus = {
  SUCCESS: 0,
  ERROR: 1,
  KCM_STORAGE_ERROR: 16,
  KCM_FILE_EXIST_ERROR: 17,
  ENTROPY_ERROR: 8,
  ROT_ERROR: 7,
  KCM_CRYPTO_ERROR: 18,
  INVALID_CERTIFICATE: 10,
  EXPIRED_CERTIFICATE: 13,
  INVALID_LWM2M_CN_ATTR: 14,
  BUNDLE_ERROR: 20,
  BUNDLE_INVALID_GROUP: 23,
  BUNDLE_INVALID_SCHEME: 24,
  ITEM_NOT_EXIST: 25,
  EMPTY_ITEM: 26,
  WRONG_ITEM_DATA_SIZE: 27,
  URI_WRONG_FORMAT: 28,
  FIRST_TO_CLAIM_NOT_ALLOWED: 29,
  BOOTSTRAP_MODE_ERROR: 30,
  UTC_OFFSET_WRONG_FORMAT: 33,
  CERTIFICATE_PUBLIC_KEY_CORRELATION_ERROR: 34,
  BUNDLE_INVALID_KEEP_ALIVE_SESSION_STATUS: 35,
  TOO_MANY_CSR_REQUESTS: 36,
  NOT_SUPPORTED: 37,
} as const

/** Looks up a status; unknown values get a generic entry (`E_FCC_STATUS_<n>`). */
export function fccStatusInfo(code: number): FccStatusInfo {
  return (
    FCC_STATUSES.get(code) ?? {
      code,
      name: `FCC_STATUS_${code}`,
      errorCode: `E_FCC_STATUS_${code}`,
      message: `the device returned unknown FCC status ${code}`,
      hint: 'Check the firmware version; see the device log.',
      infoPrefix: 'General error',
    }
  )
}

/** Where a rejection was detected. */
export type FccDetectedBy = 'device' | 'host'

/**
 * The `LwprovError` for an FCC status (exit family device, 4). `item` is the failing item (from the device's
 * `InfoMessage` or the host pre-check), `detail` extra text for the message.
 */
export function fccError(
  code: number,
  opts: { item?: string; detail?: string; infoMessage?: string; detectedBy?: FccDetectedBy; link?: string } = {},
): LwprovError {
  const info = fccStatusInfo(code)
  const by = opts.detectedBy ?? 'device'
  const where = by === 'host' ? 'lwprov pre-check (device not touched)' : `device${opts.link ? ` on ${opts.link}` : ''}`
  const item = opts.item ? ` [${opts.item}]` : ''
  const detail = opts.detail ? `: ${opts.detail}` : ''
  return new LwprovError(info.errorCode, `FCC ${info.name} (${code}) from ${where}${item}: ${info.message}${detail}`, {
    hint: info.hint,
    exit: 'device',
    details: {
      fccStatus: code,
      fccStatusName: info.name,
      detectedBy: by,
      ...(opts.item ? { item: opts.item } : {}),
      ...(opts.infoMessage !== undefined ? { infoMessage: opts.infoMessage } : {}),
    },
  })
}

/** Transport status → stable error code and exit family. */
export function ftcdError(status: number, link?: string): LwprovError {
  const info = ftcdStatusInfo(status)
  const on = link ? ` on ${link}` : ''
  // A signature mismatch or a read failure is line corruption: a retry usually succeeds. Status 9 means the device's
  // FCC handler refused to answer, which is about the data, not the line.
  const family: ExitCodeName = status === FtcdStatus.FAILED_TO_PROCESS_DATA || status === FtcdStatus.FAILED_TO_PROCESS_MESSAGE ? 'device' : 'transport'
  const hint =
    family === 'device'
      ? 'The device could not answer the bundle (factory flow disabled, or its response overflowed); see the device log.'
      : 'The frame was damaged on the line or the device transport failed: check the cable/baud rate and retry.'
  return new LwprovError(`E_FTCD_${info.name.replace(/^FTCD_COMM_/, '')}`, `FTCD transport status ${info.name} (${status})${on}: ${info.message}`, {
    hint,
    exit: family,
    details: { ftcdStatus: status, ftcdStatusName: info.name },
  })
}

/** One `WarningInfo` / `InfoMessage` entry split into its prefix and item. */
export interface FccInfoEntry {
  prefix: string
  item: string
}

/** Splits `WarningInfo` ("<prefix>:<item>\n" lines) into entries. */
export function parseWarningInfo(text: string | undefined): FccInfoEntry[] {
  if (!text) return []
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map(splitInfo)
}

/** Splits an `InfoMessage` ("<prefix>:<item>", the success one ends in "\n"). */
export function splitInfo(line: string): FccInfoEntry {
  const t = line.replace(/\n$/, '')
  const i = t.indexOf(':')
  return i < 0 ? { prefix: t, item: '' } : { prefix: t.slice(0, i), item: t.slice(i + 1) }
}
