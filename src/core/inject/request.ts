/**
 * Checks of an inject / station request that need no device, no port and no manifest: run before any of them is
 * opened, so a mistake is a usage error (exit 2) and never "exit 5 after two retries".
 */
import { validateProfile } from '../credentials/generate.js'
import { usageError } from '../errors.js'
import { parseEndpointTemplate } from '../lwm2m/endpoint.js'
import type { CredentialProfile } from '../model.js'
import { checkBaud, checkIdentityFlag, shown } from '../validate/index.js'
import { isValidUtcOffset } from './fcc/kcm.js'

export interface InjectRequestCheck {
  /** The credential profile, once it is known (it may come from the batch's recorded rows). */
  profile?: CredentialProfile
  /** `--security` as given, for checks before the profile is known. */
  security?: string | undefined
  hasCa: boolean
  deviceKeygen?: boolean
  baud?: number | undefined
  /** `--endpoint` name or template. */
  endpoint?: string | undefined
  station?: string | undefined
  /** Identity-like device information flags, by flag name (`--manufacturer` …); `{…}` templates are checked once rendered. */
  identityFlags?: Record<string, string | undefined>
  /** `--protocol`: FCC carries X.509 only, and its device information has formats of its own. */
  protocol?: string | undefined
  /** `--utc-offset` (FCC device information, +HH:MM). */
  utcOffset?: string | undefined
}

export function validateInjectRequest(r: InjectRequestCheck): void {
  if (r.profile) validateProfile(r.profile, r.hasCa)
  const security = r.profile?.security ?? r.security
  if (r.deviceKeygen && security !== undefined && security !== 'cert') {
    throw usageError('E_KEYGEN_NEEDS_CERT', 'On-device key generation only applies to certificate credentials.', 'Use --security cert with --device-keygen, or drop --device-keygen.')
  }
  if (r.protocol === 'fcc' && security !== undefined && security !== 'cert') {
    throw usageError(
      'E_FCC_SECURITY_UNSUPPORTED',
      `Izuma FCC carries X.509 credentials only; --security ${security} cannot be provisioned with --protocol fcc.`,
      'Use --security cert with --protocol fcc, or --protocol lwprov for PSK/RPK/NoSec devices.',
    )
  }
  if (r.utcOffset !== undefined && !isValidUtcOffset(r.utcOffset)) {
    throw usageError('E_UTC_OFFSET_INVALID', `--utc-offset "${shown(r.utcOffset)}" is not an offset from UTC.`, 'Write +HH:MM or -HH:MM, e.g. --utc-offset +02:00.')
  }
  if (r.baud !== undefined) checkBaud(r.baud)
  if (r.endpoint !== undefined) parseEndpointTemplate(r.endpoint)
  if (r.station !== undefined) checkIdentityFlag(r.station, '--station')
  for (const [flag, value] of Object.entries(r.identityFlags ?? {})) {
    if (value !== undefined && !value.includes('{')) checkIdentityFlag(value, flag)
  }
}
