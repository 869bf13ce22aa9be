/**
 * Shared flag groups (docs/cli.md). Every everyday flag has an `LWPROV_*` environment twin. Secrets never come from
 * flag values: only from the environment, a file, or a hidden prompt.
 */
import { Flags } from '@oclif/core'

export const manifestFlags = {
  manifest: Flags.string({
    summary: 'Manifest location: a SQLite file path or a postgres:// URL (default: lwprov.yaml up the directory tree, else ~/.local/share/lwprov/lwprov.db).',
    env: 'LWPROV_MANIFEST',
    helpGroup: 'MANIFEST',
  }),
  'manifest-file': Flags.string({
    summary: 'File (0600) holding the manifest location, e.g. a postgres:// URL with its password, kept out of argv.',
    env: 'LWPROV_MANIFEST_FILE',
    helpGroup: 'MANIFEST',
  }),
  'key-file': Flags.string({
    summary: 'File holding the 64-hex-character manifest master key (else LWPROV_MASTER_KEY).',
    env: 'LWPROV_KEY_FILE',
    helpGroup: 'MANIFEST',
  }),
  operator: Flags.string({ summary: 'Operator name recorded in the audit trail (default: the OS user).', env: 'LWPROV_OPERATOR', helpGroup: 'MANIFEST' }),
}

export const caFlags = {
  ca: Flags.string({ summary: 'Factory CA directory (ca.pem, chain.pem, and ca.key.pem or ca.key.uri for a token key).', env: 'LWPROV_CA' }),
  'passphrase-file': Flags.string({
    summary: 'File holding the CA key passphrase (else LWPROV_CA_PASSPHRASE, else a hidden prompt on a TTY).',
    env: 'LWPROV_PASSPHRASE_FILE',
  }),
  'pin-file': Flags.string({
    summary: 'File holding the PKCS#11 token PIN of a token CA (else LWPROV_PKCS11_PIN, else a hidden prompt).',
    env: 'LWPROV_PKCS11_PIN_FILE',
  }),
}

/** Flags of commands that put a CA key in a PKCS#11 token (ca create / import / delegate). */
export const pkcs11Flags = {
  pkcs11: Flags.string({ summary: "RFC 7512 URI of the CA key in a PKCS#11 token, e.g. 'pkcs11:token=Factory;object=line3-ca'." }),
  module: Flags.string({ summary: 'PKCS#11 module (shared library); else the URI module-path, else LWPROV_PKCS11_MODULE.' }),
  'pin-file': caFlags['pin-file'],
}


export const credentialProfileFlags = {
  mode: Flags.string({
    summary: 'Account kind: bootstrap (/0 only) or direct (/0 + /1).',
    options: ['bootstrap', 'direct'],
    env: 'LWPROV_MODE',
    helpGroup: 'CREDENTIALS',
  }),
  security: Flags.string({
    summary: 'Security mode: psk, cert (X.509) or nosec (development only).',
    options: ['psk', 'cert', 'nosec'],
    env: 'LWPROV_SECURITY',
    helpGroup: 'CREDENTIALS',
  }),
  server: Flags.string({
    summary: 'LwM2M or bootstrap server URI, e.g. coaps://bs.example.com:5684.',
    env: 'LWPROV_SERVER',
    helpGroup: 'CREDENTIALS',
  }),
  'server-ca': Flags.string({
    summary: "PEM or DER file with the server's trust anchor, written to /0/x/4 (certificate mode).",
    env: 'LWPROV_SERVER_CA',
    helpGroup: 'CREDENTIALS',
  }),
  'certificate-usage': Flags.integer({
    summary: 'Certificate Usage /0/x/15: 0..3 (2 = the server CA is a trust anchor, 3 = the server certificate).',
    min: 0,
    max: 3,
    helpGroup: 'CREDENTIALS',
  }),
  days: Flags.integer({ summary: 'Device certificate validity in days (default 10 years, so Izuma FCC does not warn).', default: 3653, min: 1, helpGroup: 'CREDENTIALS' }),
  'account-id': Flags.string({
    summary: 'Account id (certificate OU; Izuma aid).',
    env: 'LWPROV_ACCOUNT_ID',
    helpGroup: 'CREDENTIALS',
  }),
  'short-server-id': Flags.integer({ summary: 'Short Server ID (/0/x/10 = /1/y/0), 1..65534.', default: 1, helpGroup: 'CREDENTIALS' }),
  lifetime: Flags.integer({ summary: 'Registration lifetime /1/y/1 in seconds.', default: 86400, min: 1, helpGroup: 'CREDENTIALS' }),
  binding: Flags.string({ summary: 'Binding /1/y/7 (U, T, S, N, UQ…).', default: 'U', helpGroup: 'CREDENTIALS' }),
  'psk-bytes': Flags.integer({ summary: 'PSK length in bytes (minimum 16).', default: 32, helpGroup: 'CREDENTIALS' }),
  'psk-identity': Flags.string({
    summary: 'PSK identity: the endpoint name, or random base64url.',
    options: ['endpoint', 'random'],
    default: 'endpoint',
    helpGroup: 'CREDENTIALS',
  }),
}

export const endpointFlags = {
  endpoint: Flags.string({
    summary: 'Endpoint name or template: {seq:06} {uuid} {hex:8} {date}; {imei} {mac} {serial} are filled by the device.',
    env: 'LWPROV_ENDPOINT',
    helpGroup: 'ENDPOINTS',
  }),
  endpoints: Flags.string({ summary: 'File with one endpoint name a line.', helpGroup: 'ENDPOINTS' }),
  count: Flags.integer({ summary: 'How many endpoints.', min: 1, helpGroup: 'ENDPOINTS' }),
  start: Flags.integer({ summary: 'First {seq} number (default: after the highest already issued).', min: 0, helpGroup: 'ENDPOINTS' }),
  batch: Flags.string({ summary: 'Batch / work-order name recorded with every endpoint.', env: 'LWPROV_BATCH', helpGroup: 'ENDPOINTS' }),
}

export const deviceInfoFlags = {
  manufacturer: Flags.string({ summary: 'Device manufacturer (Izuma mbed.Manufacturer).', env: 'LWPROV_MANUFACTURER', helpGroup: 'DEVICE INFO' }),
  'model-number': Flags.string({ summary: 'Model number.', env: 'LWPROV_MODEL_NUMBER', helpGroup: 'DEVICE INFO' }),
  'device-type': Flags.string({ summary: 'Device type.', env: 'LWPROV_DEVICE_TYPE', helpGroup: 'DEVICE INFO' }),
  'hardware-version': Flags.string({ summary: 'Hardware version.', env: 'LWPROV_HARDWARE_VERSION', helpGroup: 'DEVICE INFO' }),
  'memory-total-kb': Flags.integer({ summary: 'Total memory in KiB.', min: 0, max: 4_294_967_295, env: 'LWPROV_MEMORY_TOTAL_KB', helpGroup: 'DEVICE INFO' }),
  'serial-number': Flags.string({ summary: 'Device serial number, or a template such as SN-{seq:06}.', helpGroup: 'DEVICE INFO' }),
  timezone: Flags.string({ summary: 'Device time zone, e.g. Europe/Helsinki.', helpGroup: 'DEVICE INFO' }),
  'utc-offset': Flags.string({ summary: 'UTC offset, e.g. +02:00.', helpGroup: 'DEVICE INFO' }),
}

export const transportFlags = {
  port: Flags.string({ summary: 'Serial port path, e.g. /dev/ttyUSB0.', env: 'LWPROV_PORT', helpGroup: 'TRANSPORT' }),
  baud: Flags.integer({ summary: 'Serial baud rate.', default: 115200, env: 'LWPROV_BAUD', helpGroup: 'TRANSPORT' }),
  tcp: Flags.string({ summary: 'Device TCP address HOST:PORT (Linux devices running FCC).', helpGroup: 'TRANSPORT' }),
  protocol: Flags.string({
    summary: 'Device protocol: lwprov (open protocol), fcc (Izuma factory configurator), zephyr-shell, nrf-at, mcumgr, or auto (probe).',
    options: ['lwprov', 'fcc', 'zephyr-shell', 'nrf-at', 'mcumgr', 'auto'],
    env: 'LWPROV_PROTOCOL',
    helpGroup: 'TRANSPORT',
  }),
}

/** Label output (batch create --labels, labels, station --labels-per-device). */
export const labelFlags = {
  'label-format': Flags.string({ summary: 'Label format; default from the file name (.pdf, .zpl, .csv, a PNG directory ending in /).', options: ['pdf', 'png', 'zpl', 'csv'], env: 'LWPROV_LABEL_FORMAT', helpGroup: 'LABELS' }),
  'label-layout': Flags.string({ summary: 'Label layout: a name in templates/labels (a4-3x8, a4-4x10, letter-3x8, letter-4x10, roll-50x25) or a layout JSON file.', env: 'LWPROV_LABEL_LAYOUT', helpGroup: 'LABELS' }),
  'claim-url': Flags.string({ summary: 'QR content as a URL template, e.g. https://claim.example.com/?c={claim} (default: the LW1 payload).', env: 'LWPROV_CLAIM_URL', helpGroup: 'LABELS' }),
}

/** Options of the field-device protocols (docs/zephyr-shell.md, docs/nrf-at.md, docs/mcumgr.md). */
export const fieldDeviceFlags = {
  start: Flags.boolean({ summary: 'zephyr-shell: start LwM2M registration (lwm2m start) after a verified write.', env: 'LWPROV_START', helpGroup: 'FIELD DEVICES' }),
  'sec-tag': Flags.integer({ summary: 'nrf-at: modem sec_tag (default: the NCS LwM2M client\'s 35724862 bootstrap / 35724861 server tag).', min: 0, max: 4294967291, env: 'LWPROV_SEC_TAG', helpGroup: 'FIELD DEVICES' }),
  'smp-path': Flags.string({ summary: 'mcumgr: upload target on the device (default /factory/provision.cbor; e.g. /lfs/provision.cbor).', env: 'LWPROV_SMP_PATH', helpGroup: 'FIELD DEVICES' }),
  'smp-mtu': Flags.integer({ summary: 'mcumgr: SMP MTU when the device does not report its buffer size (default 256).', min: 128, max: 8192, env: 'LWPROV_SMP_MTU', helpGroup: 'FIELD DEVICES' }),
}

/** The protocol options from the parsed field-device flags. */
export function protocolOptionsFromFlags(f: { start?: boolean | undefined; 'sec-tag'?: number | undefined; 'smp-path'?: string | undefined; 'smp-mtu'?: number | undefined }) {
  return {
    ...(f.start ? { start: true } : {}),
    ...(f['sec-tag'] === undefined ? {} : { secTag: f['sec-tag'] }),
    ...(f['smp-path'] === undefined ? {} : { smpPath: f['smp-path'] }),
    ...(f['smp-mtu'] === undefined ? {} : { smpMtu: f['smp-mtu'] }),
  }
}
