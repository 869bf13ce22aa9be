/**
 * `--server-ca`: the DER/PEM bytes must really be an X.509 certificate before they are written to /0/x/4. Certificate
 * usage 0 (PKIX-TA) and 2 (DANE-TA) name a trust anchor, so the certificate must be a CA (basicConstraints CA:TRUE);
 * usage 1 and 3 pin the server's own certificate, so any certificate will do.
 */
import { X509Certificate } from 'node:crypto'

import { usageError } from '../errors.js'
import { shown } from './escape.js'

export interface ServerCaInfo {
  subject: string
  notAfter: Date
  isCa: boolean
  expired: boolean
}

export function checkServerCa(der: Uint8Array, certificateUsage: number, file: string, now: Date): ServerCaInfo {
  let x: X509Certificate
  try {
    x = new X509Certificate(Buffer.from(der))
  } catch (e) {
    throw usageError(
      'E_SERVER_CA_INVALID',
      `--server-ca ${shown(file)} is not an X.509 certificate (${(e as Error).message.split('\n')[0]}).`,
      "Pass the server CA's certificate as PEM or DER (e.g. `openssl x509 -in ca.pem -noout -subject` must succeed).",
    )
  }
  const info: ServerCaInfo = {
    subject: shown(x.subject.replace(/\n/g, ', ')),
    notAfter: new Date(x.validTo),
    isCa: x.ca,
    expired: new Date(x.validTo).getTime() < now.getTime(),
  }
  if ((certificateUsage === 0 || certificateUsage === 2) && !x.ca) {
    throw usageError(
      'E_SERVER_CA_NOT_CA',
      `--server-ca ${shown(file)} (${info.subject}) is not a CA certificate, but certificate usage ${certificateUsage} needs a trust anchor.`,
      'Pass the CA that issued the server certificate, or --certificate-usage 3 to pin the server certificate itself.',
    )
  }
  return info
}
