import path from 'node:path'

import { Flags } from '@oclif/core'

import { openSerialLink } from '../adapters/serial-link.js'
import { openTcpLink } from '../adapters/tcp-link.js'
import { BaseCommand } from '../cli/base-command.js'
import { bindCaToManifest, deviceInfoFromFlags, identityFlagValues, loadCaFromFlags, masterKeyFromFlags, openStoreFromFlags, profileFromFlags, profileFromFlagsOrBatch } from '../cli/context.js'
import { caFlags, credentialProfileFlags, deviceInfoFlags, endpointFlags, manifestFlags, transportFlags } from '../cli/flags.js'
import { usageError } from '../core/errors.js'
import { injectOne, protocolByName, validateInjectRequest, type ByteLink, type InjectOutcome } from '../core/inject/index.js'
import { withAccountId } from '../core/inject/fcc/bundle.js'
import { deviceInfoSource } from '../core/inject/device-info.js'
import { checkReason, shown } from '../core/validate/index.js'

export type InjectResult = Omit<InjectOutcome, 'attempts' | 'deviceKeygen'> & { attempts: number }

export default class Inject extends BaseCommand {
  static override summary = 'Provision one device: identify, write credentials, read back, verify, record.'
  static override description = `Connects to the device on a serial port (or TCP for Linux devices running Izuma FCC), learns who it is, generates its credentials just in time (the private key is never stored: only the certificate and fingerprint; PSKs are sealed with the manifest master key), writes them, and records the endpoint as verified only once the device's read-back digest matches (a failure is recorded as failed with the step and reason).

The endpoint is --endpoint NAME, a template the device fills ({serial}, {imei}, {mac}), or the next reserved name of --batch. A device that fails keeps its endpoint: re-running inject for it is idempotent. Transport failures are retried on a fresh connection (--retries); refusals are not. Ctrl-C marks the row failed (interrupted) and exits 130.`

  static override examples = [
    '<%= config.bin %> inject --port /dev/ttyACM0 --protocol lwprov --endpoint urn:dev:ops:32473-Widget-{serial} --mode direct --security psk --server coaps://lwm2m.example.com:5684',
    '<%= config.bin %> inject --port /dev/ttyUSB0 --protocol lwprov --batch WO-1042 --mode bootstrap --security cert --server coaps://bs.example.com:5684 --ca ./factory-ca --device-keygen',
    '<%= config.bin %> inject --tcp 192.168.1.20:7777 --protocol fcc --endpoint 0173fcc0001 --mode bootstrap --security cert --server "coaps://bs.example.com:5684?aid=0123456789abcdef0123456789abcdef" --server-ca server-ca.pem --ca ./factory-ca --manufacturer Acme --model-number M1 --device-type sensor --hardware-version 1.0 --memory-total-kb 512 --serial-number SN-0001 --json',
  ]

  static override flags = {
    ...transportFlags,
    endpoint: endpointFlags.endpoint,
    batch: endpointFlags.batch,
    ...credentialProfileFlags,
    ...caFlags,
    ...manifestFlags,
    ...deviceInfoFlags,
    'device-keygen': Flags.boolean({ summary: 'Let the device generate its key pair and sign its CSR with --ca (the private key never leaves it).', helpGroup: 'CREDENTIALS' }),
    'first-to-claim': Flags.boolean({ summary: 'Izuma first-to-claim: no aid= in the bootstrap URI, the enrollment id is recorded.', helpGroup: 'CREDENTIALS' }),
    station: Flags.string({ summary: 'Station name recorded with the manifest row (default: host name).', env: 'LWPROV_STATION' }),
    retries: Flags.integer({ summary: 'Reconnect-and-retry attempts after transport failures.', default: 2, min: 0, max: 10, helpGroup: 'TRANSPORT' }),
    reprovision: Flags.boolean({ summary: 'Give a verified device new credentials (the old ones are kept as history); needs --reason.', dependsOn: ['reason'] }),
    reason: Flags.string({ summary: 'Why the device is re-provisioned (recorded with the superseded credentials).', dependsOn: ['reprovision'] }),
    timeout: Flags.integer({ summary: 'Per-step device timeout in ms (commit and read-back get 3x).', min: 100, helpGroup: 'TRANSPORT' }),
  }

  async run(): Promise<InjectResult> {
    const { flags } = await this.parse(Inject)
    if ((flags.port === undefined) === (flags.tcp === undefined)) {
      throw usageError('E_TRANSPORT_MISSING', 'Give exactly one of --port and --tcp.', 'Pass --port /dev/ttyUSB0 for a serial device, or --tcp HOST:PORT for a device on the network.')
    }
    if (flags.protocol === undefined) {
      throw usageError('E_PROTOCOL_MISSING', 'Missing --protocol.', 'Pass --protocol lwprov (open protocol) or --protocol fcc (Izuma factory configurator).')
    }
    if (flags.endpoint === undefined && flags.batch === undefined) {
      throw usageError('E_ENDPOINT_MISSING', 'No endpoint for the device.', "Pass --endpoint NAME (or a template such as 'urn:dev:ops:32473-Widget-{serial}') or --batch NAME.")
    }
    // Everything checkable without the device, the port or the manifest, so a mistake opens nothing. A profile that
    // comes from the batch's recorded rows is checked once the manifest is open (still before any port).
    const warn = (t: string) => this.warn(t)
    const complete = Boolean(flags.mode && flags.security && flags.server)
    const early = complete ? profileFromFlags(flags, warn) : undefined
    const request = {
      hasCa: Boolean(flags.ca),
      security: flags.security,
      deviceKeygen: flags['device-keygen'],
      ...(flags.tcp === undefined ? { baud: flags.baud } : {}),
      endpoint: flags.endpoint,
      station: flags.station,
      identityFlags: identityFlagValues(flags),
    }
    validateInjectRequest({ ...request, ...(early ? { profile: early } : {}) })
    const reprovision = flags.reprovision ? { reason: checkReason(flags.reason) } : undefined
    const store = await openStoreFromFlags(flags, (fn) => this.onCleanup(fn))
    const given = early ?? (await profileFromFlagsOrBatch(flags, store, warn))
    if (!early) validateInjectRequest({ ...request, profile: given })
    const profile = flags.protocol === 'fcc' ? withAccountId(given, flags['first-to-claim']) : given
    const masterKey = masterKeyFromFlags(flags, profile.security === 'psk')
    const ca = bindCaToManifest(await loadCaFromFlags(flags, (fn) => this.onCleanup(fn)), store)
    const deviceInfo = await deviceInfoSource(store, deviceInfoFromFlags(flags))()
    const protocol = protocolByName(flags.protocol)
    const connect = (): Promise<ByteLink> =>
      flags.tcp !== undefined ? openTcpLink(flags.tcp) : openSerialLink(path.resolve(flags.port!), { baud: flags.baud })

    const abort = new AbortController()
    const onSigint = () => abort.abort(new Error('SIGINT'))
    process.once('SIGINT', onSigint)
    this.onCleanup(() => {
      process.removeListener('SIGINT', onSigint)
    })
    const where = flags.tcp ?? flags.port!
    const t = flags.timeout
    const outcome = await injectOne({
      connect,
      target: flags.tcp ?? path.resolve(flags.port!),
      protocol,
      store,
      profile,
      ...(flags.endpoint === undefined ? {} : { endpoint: flags.endpoint }),
      ...(flags.batch === undefined ? {} : { batch: flags.batch }),
      ...(ca ? { ca } : {}),
      ...(masterKey ? { masterKey } : {}),
      deviceKeygen: flags['device-keygen'],
      firstToClaim: flags['first-to-claim'],
      ...(reprovision ? { reprovision } : {}),
      ...(deviceInfo ? { deviceInfo } : {}),
      ...(deviceInfo?.serialNumber ? { identity: { serial: deviceInfo.serialNumber } } : {}),
      station: flags.station ?? (await import('node:os')).hostname(),
      retries: flags.retries,
      ...(t === undefined ? {} : { timeouts: { identify: t, frame: t, commit: 3 * t } }),
      hooks: {
        signal: abort.signal,
        onStep: (step, detail) => this.info(this.color('dim', `${where}: ${step}${detail ? ` (${detail})` : ''}`)),
        onIdentity: (id, deviceId) => this.info(`${where}: device ${shown(deviceId ?? '(no serial)')}${id.model ? ` ${shown(id.model)}` : ''}${id.firmware ? ` fw ${shown(id.firmware)}` : ''}`),
        onEndpoint: (ep) => this.info(`${where}: endpoint ${shown(ep)}`),
        onRetry: (n, err) => this.warn(`${where}: ${err.message} — retrying (${n}/${flags.retries})`),
      },
    })
    const { deviceKeygen: _k, ...result } = outcome
    this.out(`${this.color('green', 'verified')} ${shown(result.endpoint)} on ${shown(result.port)}${result.deviceId ? ` (device ${shown(result.deviceId)})` : ''}, proof ${result.proof}`)
    return result
  }
}
