/** Factory CAs, device certificates and PSKs. */
export {
  CA_FILES,
  caResult,
  checkCaDirFree,
  checkNewPassphrase,
  CA_KEY_PBKDF2_ITERATIONS,
  encryptCaKey,
  MIN_NEW_PASSPHRASE,
  createCa,
  DEFAULT_CA_DAYS,
  DEFAULT_INTERMEDIATE_PATH_LEN,
  DEFAULT_ROOT_PATH_LEN,
  describeCa,
  importCa,
  importTokenCa,
  isTokenCaDir,
  fileSigner,
  loadCa,
  loadTokenCa,
  signWithCa,
  tokenCaUri,
  tokenSigner,
  writeTokenCaDir,
  ISSUED_DIR,
  MAX_CHAIN,
  recordIssuedCa,
  writeCaDir,
  type CaDescription,
  type CaResult,
  type CreateCaOptions,
  type CreatedCa,
  type ImportCaOptions,
} from './ca.js'
export { signCsr, type SignCsrOptions } from './csr.js'
export type { DeviceRequest } from './issue-core.js'
export { deviceProfile, INLINE_LIMIT, issueDeviceCertificates, workersAvailable, type IssueOptions } from './issue.js'
export { isKeyType, KEY_TYPES, keyTypeOf, type KeyType } from './keys.js'
export { generatePsk, generatePsks, MIN_PSK_BYTES, randomPskIdentities, randomPskIdentity } from './psk.js'
export type { IssuedCertificate, LoadedCa } from './types.js'
export { derToPem, pemBlocks, readCertificateFile, sha256Colon, sha256Hex } from './util.js'
export { finalizeModules, formatPkcs11Uri, parsePkcs11Uri, resolveModule, signerMatches, TokenSigner, type Pkcs11Uri, type TokenRef } from './pkcs11.js'
export type { CaSigner } from './types.js'
