/**
 * A throwaway SoftHSM2 token store: its own config (SOFTHSM2_CONF) and token directory under the test file's TMPDIR,
 * tokens initialised with softhsm2-util. The module path is looked up in the usual Debian/Ubuntu/Fedora places.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const SOFTHSM_MODULE =
  process.env.LWPROV_TEST_PKCS11_MODULE ??
  ['/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so', '/usr/lib64/pkcs11/libsofthsm2.so', '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so'].find((p) => existsSync(p)) ??
  '/usr/lib/softhsm/libsofthsm2.so'

export interface SoftHsm {
  /** The SOFTHSM2_CONF file (set it in the environment of whoever loads the module). */
  conf: string
  dir: string
  /** Creates a token with this label and user PIN (SO PIN 12345678). */
  initToken(label: string, pin: string): void
}

/** A fresh token store; also points this process's SOFTHSM2_CONF at it (the module reads it when loaded). */
export function startSoftHsm(): SoftHsm {
  const dir = mkdtempSync(join(tmpdir(), 'lwprov-softhsm-'))
  mkdirSync(join(dir, 'tokens'))
  const conf = join(dir, 'softhsm2.conf')
  writeFileSync(conf, `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`)
  process.env.SOFTHSM2_CONF = conf
  return {
    conf,
    dir,
    initToken(label, pin) {
      execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', '12345678', '--pin', pin], { env: { ...process.env, SOFTHSM2_CONF: conf }, stdio: 'pipe' })
    },
  }
}
