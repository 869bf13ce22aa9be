/** The credentials step of the inject session: host-generated, or a device-generated key with a CSR the CA signs. */
import { randomBytes } from 'node:crypto'

import { generateCredentialSets } from '../credentials/generate.js'
import { LwprovError, deviceError, usageError } from '../errors.js'
import type { CredentialSet } from '../model.js'
import { signCsr } from '../pki/index.js'
import type { InjectOptions } from './session.js'
import type { DeviceIdentity, InjectionPlan } from './types.js'

/** Whether the device makes its own key pair (checked against the profile, the CA and the device's capabilities). */
export function wantsDeviceKeygen(opts: InjectOptions, id: DeviceIdentity, link: string): boolean {
  if (!opts.deviceKeygen) return false
  if (opts.profile.security !== 'cert') {
    throw usageError('E_KEYGEN_NEEDS_CERT', 'On-device key generation only applies to certificate credentials.', 'Use --security cert with --device-keygen, or drop --device-keygen.')
  }
  if (!opts.ca) throw usageError('E_CA_REQUIRED', 'Signing the device CSR needs the factory CA.', 'Pass --ca DIR.')
  // FCC devices do not announce capabilities: the operator vouches for them with the flag.
  if (opts.protocol.name === 'lwprov' && !id.capabilities.includes('keygen')) {
    throw deviceError('E_DEVICE_NO_KEYGEN', `The device on ${link} cannot generate keys (no keygen capability).`, 'Drop --device-keygen so the host generates the key.')
  }
  return true
}

export function csrSigner(opts: InjectOptions, endpoint: string): NonNullable<InjectionPlan['signCsr']> {
  return async (csrDer) => {
    const ca = opts.ca!
    const issued = await signCsr(ca, csrDer, {
      endpoint,
      days: opts.profile.days,
      now: (opts.now ?? (() => new Date()))(),
      ...(opts.profile.accountId ? { accountId: opts.profile.accountId } : {}),
    })
    return { certificateDer: issued.certificateDer, chainDer: ca.chainDer }
  }
}

/**
 * The profile's credentials without any key, PSK or certificate: what device key generation sends, and what the
 * pre-check sees before anything is generated.
 */
export function bareCredentials(opts: InjectOptions, endpoint: string, deviceKeygen: boolean): CredentialSet {
  const p = opts.profile
  const certificateUsage = p.security === 'cert' && p.serverCaDer ? (p.certificateUsage ?? 2) : p.certificateUsage
  return {
    endpoint,
    mode: p.mode,
    security: p.security,
    serverUri: p.serverUri,
    ...(deviceKeygen && opts.ca ? { chainDer: opts.ca.chainDer } : {}),
    ...(p.serverCaDer ? { serverCaDer: p.serverCaDer } : {}),
    ...(certificateUsage === undefined ? {} : { certificateUsage }),
    ...(p.accountId ? { accountId: p.accountId } : {}),
    shortServerId: p.shortServerId,
    lifetime: p.lifetime,
    binding: p.binding,
    notificationStoring: p.notificationStoring,
  }
}

/** Credentials for one device. With device key generation there is no key (and no certificate yet) on the host. */
export async function makeCredentials(opts: InjectOptions, endpoint: string, deviceKeygen: boolean, now: Date): Promise<CredentialSet> {
  const p = opts.profile
  if (deviceKeygen) return bareCredentials(opts, endpoint, true)
  const generate = opts.generate ?? generateCredentialSets
  const [cs] = await generate([endpoint], p, { ...(opts.ca ? { ca: opts.ca } : {}), now })
  if (!cs) throw new LwprovError('E_INTERNAL', 'credential generation returned nothing', { exit: 'bug' })
  // the protocol adapts what the device cannot take (zephyr-shell: PSKs without 0x00)
  return opts.protocol.prepareCredentials?.(cs, randomBytes) ?? cs
}
