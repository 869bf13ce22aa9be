import 'reflect-metadata'

import { randomBytes } from 'node:crypto'

import { Pkcs10CertificateRequest } from '@peculiar/x509'

import { cryptoError, usageError } from '../errors.js'
import { DeviceIssuer, finish } from './issue-core.js'
import { deviceProfile } from './issue.js'
import type { IssuedCertificate, LoadedCa } from './types.js'
import { randomSerial } from './util.js'

export interface SignCsrOptions {
  /** The endpoint name the CSR's CN must equal. */
  endpoint: string
  /** Certificate OU (Izuma account id). */
  accountId?: string
  days: number
  now?: Date
}

/**
 * Issues a device certificate for a device-generated key (a PKCS#10 CSR), with the same profile as
 * `issueDeviceCertificates`. Errors: `E_CSR_INVALID` (unparseable), `E_CSR_SIGNATURE` (proof of possession fails,
 * exit 6), `E_CSR_CN_MISMATCH` (CN ≠ endpoint).
 */
export async function signCsr(ca: LoadedCa, csrDer: Uint8Array, opts: SignCsrOptions): Promise<Omit<IssuedCertificate, 'privateKeyDer'>> {
  let csr: Pkcs10CertificateRequest
  try {
    csr = new Pkcs10CertificateRequest(Buffer.from(csrDer))
  } catch (error) {
    throw usageError('E_CSR_INVALID', 'The certificate request is not a valid PKCS#10 CSR.', 'Check what the device returned for its CSR.', { cause: String(error) })
  }
  let ok = false
  try {
    ok = await csr.verify()
  } catch {
    ok = false
  }
  if (!ok) throw cryptoError('E_CSR_SIGNATURE', `The CSR for ${opts.endpoint} has an invalid signature.`, 'The device key and CSR do not match; regenerate the CSR on the device.')
  const cn = csr.subjectName.getField('CN')[0]
  if (cn !== opts.endpoint) {
    throw cryptoError('E_CSR_CN_MISMATCH', `The CSR's CN (${cn ?? 'none'}) is not the endpoint name ${opts.endpoint}.`, 'Have the device request a certificate with CN = its endpoint name.')
  }
  const { spec, notAfter } = deviceProfile(ca, opts.days, opts.now)
  if (ca.beforeIssue) await ca.beforeIssue(1)
  const req = opts.accountId === undefined ? { endpoint: opts.endpoint } : { endpoint: opts.endpoint, accountId: opts.accountId }
  const out = new DeviceIssuer(spec, (tbs) => ca.signer.sign(tbs)).issue(req, randomSerial(16, randomBytes(16)), Buffer.from(csr.publicKey.rawData))
  return { endpoint: opts.endpoint, certificateDer: out.certificateDer, serialHex: out.serialHex, notAfter, ...finish(out.certificateDer) }
}
