/**
 * Every built-in template's output, for a certificate issued by a real developer CA (lwprov pki), compiles with
 * `gcc -Wall -Wextra -Werror`; a linked test program prints the values back; the embedded DER certificate parses with
 * OpenSSL, has CN = endpoint and matches the embedded key.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { beforeAll, describe, expect, it } from 'vitest'

import { buildDevcertModel } from '../../../src/core/devcert/model.js'
import { loadTemplate, renderTemplateFiles } from '../../../src/core/devcert/templates.js'
import type { CredentialSet } from '../../../src/core/model.js'
import { createCa, generatePsk, issueDeviceCertificates, loadCa, writeCaDir } from '../../../src/core/pki/index.js'
import { tempDir } from '../../helpers/cli.js'

const EP = 'dev-int-0001'
const AID = '0123456789abcdef0123456789abcdef'
let work: string
let cert: CredentialSet
let psk: CredentialSet
let serverCaDer: Buffer

const run = (cmd: string, args: string[], cwd = work) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }).toString()
const gcc = (args: string[], cwd: string) => {
  try {
    return run('gcc', ['-Wall', '-Wextra', '-Werror', ...args], cwd)
  } catch (e) {
    throw new Error(`gcc ${args.join(' ')} failed:\n${(e as { stderr?: Buffer }).stderr?.toString()}`)
  }
}

function render(template: string, credential: CredentialSet, out: string, sub: string): string {
  const dir = join(work, sub)
  mkdirSync(dir, { recursive: true })
  const m = buildDevcertModel({ credential, template, outName: out, generatedAt: new Date(), generator: 'lwprov test' })
  for (const f of renderTemplateFiles(loadTemplate(template), m)) writeFileSync(join(dir, f.name), f.content)
  return dir
}

function subjectCn(derFile: string): string {
  const text = run('openssl', ['x509', '-inform', 'der', '-in', derFile, '-noout', '-subject', '-nameopt', 'multiline'])
  return /commonName\s*=\s*(.*)/.exec(text)![1]!.trim()
}

function pubkeyOfCert(derFile: string): string {
  return run('openssl', ['x509', '-inform', 'der', '-in', derFile, '-noout', '-pubkey'])
}
function pubkeyOfKey(derFile: string): string {
  return run('openssl', ['pkey', '-inform', 'der', '-in', derFile, '-pubout'])
}

beforeAll(async () => {
  work = tempDir('lwprov-devcert-int-')
  const created = await createCa({ name: 'lwprov Developer CA', keyType: 'ec-p256', days: 3650, pathLen: 0 })
  writeCaDir(join(work, 'ca'), created, 'int-pass-phrase')
  const ca = await loadCa(join(work, 'ca'), 'int-pass-phrase')
  const [issued] = await issueDeviceCertificates(ca, [{ endpoint: EP, accountId: AID }], { days: 365 })
  run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'srv.key', '-out', 'srv.der', '-outform', 'der', '-subj', '/CN=Int Server CA', '-days', '30'])
  serverCaDer = readFileSync(join(work, 'srv.der'))
  const base = { endpoint: EP, shortServerId: 101, lifetime: 3600, binding: 'U', notificationStoring: false }
  cert = {
    ...base,
    mode: 'bootstrap',
    security: 'cert',
    serverUri: `coaps://bootstrap.example.com:5684?aid=${AID}`,
    certificateDer: issued!.certificateDer,
    privateKeyDer: issued!.privateKeyDer,
    serverCaDer,
    certificateUsage: 2,
    fingerprint: issued!.fingerprint,
    serialHex: issued!.serialHex,
    notAfter: issued!.notAfter,
    accountId: AID,
  }
  psk = { ...base, mode: 'direct', security: 'psk', serverUri: 'coaps://lwm2m.example.com:5684', pskIdentity: EP, psk: generatePsk(16) }
})

describe('devcert output compiles and carries the credential', () => {
  it('izuma: links against the extern declarations fcc_developer_flow() uses', () => {
    const dir = render('izuma', cert, 'mbed_cloud_dev_credentials.c', 'izuma')
    writeFileSync(
      join(dir, 'main.c'),
      `#include <stdio.h>
#include <inttypes.h>
extern const char MBED_CLOUD_DEV_BOOTSTRAP_ENDPOINT_NAME[];
extern const char MBED_CLOUD_DEV_ACCOUNT_ID[];
extern const char MBED_CLOUD_DEV_BOOTSTRAP_SERVER_URI[];
extern const uint8_t MBED_CLOUD_DEV_BOOTSTRAP_DEVICE_CERTIFICATE[];
extern const uint32_t MBED_CLOUD_DEV_BOOTSTRAP_DEVICE_CERTIFICATE_SIZE;
extern const uint8_t MBED_CLOUD_DEV_BOOTSTRAP_SERVER_ROOT_CA_CERTIFICATE[];
extern const uint32_t MBED_CLOUD_DEV_BOOTSTRAP_SERVER_ROOT_CA_CERTIFICATE_SIZE;
extern const uint8_t MBED_CLOUD_DEV_BOOTSTRAP_DEVICE_PRIVATE_KEY[];
extern const uint32_t MBED_CLOUD_DEV_BOOTSTRAP_DEVICE_PRIVATE_KEY_SIZE;
extern const char MBED_CLOUD_DEV_MANUFACTURER[], MBED_CLOUD_DEV_MODEL_NUMBER[], MBED_CLOUD_DEV_SERIAL_NUMBER[];
extern const char MBED_CLOUD_DEV_DEVICE_TYPE[], MBED_CLOUD_DEV_HARDWARE_VERSION[];
extern const uint32_t MBED_CLOUD_DEV_MEMORY_TOTAL_KB;
static void dump(const char *path, const uint8_t *p, uint32_t n) { FILE *f = fopen(path, "wb"); fwrite(p, 1, n, f); fclose(f); }
int main(void) {
  dump("cert.der", MBED_CLOUD_DEV_BOOTSTRAP_DEVICE_CERTIFICATE, MBED_CLOUD_DEV_BOOTSTRAP_DEVICE_CERTIFICATE_SIZE);
  dump("key.der", MBED_CLOUD_DEV_BOOTSTRAP_DEVICE_PRIVATE_KEY, MBED_CLOUD_DEV_BOOTSTRAP_DEVICE_PRIVATE_KEY_SIZE);
  dump("ca.der", MBED_CLOUD_DEV_BOOTSTRAP_SERVER_ROOT_CA_CERTIFICATE, MBED_CLOUD_DEV_BOOTSTRAP_SERVER_ROOT_CA_CERTIFICATE_SIZE);
  printf("%s\\n%s\\n%s\\n%s|%s|%s|%s|%s|%" PRIu32 "\\n", MBED_CLOUD_DEV_BOOTSTRAP_ENDPOINT_NAME, MBED_CLOUD_DEV_ACCOUNT_ID,
    MBED_CLOUD_DEV_BOOTSTRAP_SERVER_URI, MBED_CLOUD_DEV_MANUFACTURER, MBED_CLOUD_DEV_MODEL_NUMBER, MBED_CLOUD_DEV_SERIAL_NUMBER,
    MBED_CLOUD_DEV_DEVICE_TYPE, MBED_CLOUD_DEV_HARDWARE_VERSION, MBED_CLOUD_DEV_MEMORY_TOTAL_KB);
  return 0;
}
`,
    )
    gcc(['-c', '-o', 'creds.o', 'mbed_cloud_dev_credentials.c'], dir)
    gcc(['-o', 't', 'main.c', 'mbed_cloud_dev_credentials.c'], dir)
    const out = run('./t', [], dir).split('\n')
    expect(out.slice(0, 4)).toEqual([EP, AID, cert.serverUri, 'dev_manufacturer|dev_model_num|0|dev_device_type|dev_hardware_version|0'])
    expect(readFileSync(join(dir, 'cert.der'))).toEqual(Buffer.from(cert.certificateDer!))
    expect(readFileSync(join(dir, 'ca.der'))).toEqual(serverCaDer)
    expect(subjectCn(join(dir, 'cert.der'))).toBe(EP)
    expect(pubkeyOfKey(join(dir, 'key.der'))).toBe(pubkeyOfCert(join(dir, 'cert.der')))
    // below the 1024-byte buffer fcc_developer_flow() reads the stored certificate into
    expect(cert.certificateDer!.length).toBeLessThan(1024)
  })

  const cMain = `#include <stdio.h>
#include <inttypes.h>
#include "HEADER"
static void dump(const char *path, const uint8_t *p, size_t n) { FILE *f = fopen(path, "wb"); fwrite(p, 1, n, f); fclose(f); }
int main(void) {
  dump("r3.der", lwm2m_dev_public_key_or_identity, lwm2m_dev_public_key_or_identity_len);
  dump("r4.der", lwm2m_dev_server_public_key, lwm2m_dev_server_public_key_len);
  dump("r5.der", lwm2m_dev_secret_key, lwm2m_dev_secret_key_len);
  printf("%s\\n%s\\n%d %u %u %d %" PRIu32 " %d %s\\n", lwm2m_dev_endpoint, lwm2m_dev_server_uri, lwm2m_dev_bootstrap_server,
    (unsigned)lwm2m_dev_security_mode, (unsigned)lwm2m_dev_short_server_id, lwm2m_dev_certificate_usage, lwm2m_dev_lifetime,
    lwm2m_dev_notification_storing, lwm2m_dev_binding);
  return 0;
}
`
  for (const template of ['c', 'zephyr']) {
    it(`${template}: header + source compile, values and DER round-trip (certificate)`, () => {
      const dir = render(template, cert, 'lwm2m_dev_credentials.c', `${template}-cert`)
      writeFileSync(join(dir, 'main.c'), cMain.replace('HEADER', 'lwm2m_dev_credentials.h'))
      gcc(['-c', '-I', dir, '-o', 'creds.o', 'lwm2m_dev_credentials.c'], dir)
      gcc(['-o', 't', 'main.c', 'lwm2m_dev_credentials.c'], dir)
      const out = run('./t', [], dir).split('\n')
      expect(out.slice(0, 3)).toEqual([EP, cert.serverUri, '1 2 101 2 3600 0 U'])
      expect(subjectCn(join(dir, 'r3.der'))).toBe(EP)
      expect(readFileSync(join(dir, 'r4.der'))).toEqual(serverCaDer)
      expect(pubkeyOfKey(join(dir, 'r5.der'))).toBe(pubkeyOfCert(join(dir, 'r3.der')))
    })

    it(`${template}: header + source compile, values round-trip (PSK)`, () => {
      const dir = render(template, psk, 'creds.c', `${template}-psk`)
      writeFileSync(join(dir, 'main.c'), cMain.replace('HEADER', 'creds.h'))
      gcc(['-o', 't', 'main.c', 'creds.c'], dir)
      const out = run('./t', [], dir).split('\n')
      expect(out.slice(0, 3)).toEqual([EP, psk.serverUri, '0 0 101 -1 3600 0 U'])
      expect(readFileSync(join(dir, 'r3.der')).toString()).toBe(EP)
      expect(readFileSync(join(dir, 'r4.der')).length).toBe(0)
      expect(readFileSync(join(dir, 'r5.der'))).toEqual(Buffer.from(psk.psk!))
      if (template === 'zephyr') {
        const conf = readFileSync(join(dir, 'creds.conf'), 'utf8')
        for (const line of conf.split('\n').filter((l) => l && !l.startsWith('#'))) expect(line).toMatch(/^CONFIG_[A-Z0-9_]+=(y|n|-?\d+|"(?:[^"\\]|\\.)*")$/)
        expect(conf).toContain(`CONFIG_NET_SAMPLE_LWM2M_PSK="${Buffer.from(psk.psk!).toString('hex')}"`)
      }
    })
  }

  it('esp-idf: the header links with the DER files embedded the way EMBED_FILES does (ld -b binary)', () => {
    const dir = render('esp-idf', cert, 'lwm2m_dev.h', 'esp-idf')
    // ESP-IDF embeds each file as an object whose symbols are _binary_<file name>_start/_end, like GNU ld -b binary.
    for (const f of ['lwm2m_dev_cert.der', 'lwm2m_dev_key.der', 'lwm2m_dev_server_ca.der']) run('ld', ['-r', '-b', 'binary', '-o', `${f}.o`, f], dir)
    writeFileSync(
      join(dir, 'main.c'),
      `#include <stdio.h>
#include "lwm2m_dev.h"
static void dump(const char *path, const uint8_t *p, size_t n) { FILE *f = fopen(path, "wb"); fwrite(p, 1, n, f); fclose(f); }
int main(void) {
  dump("cert.out", lwm2m_dev_cert_der_start, LWM2M_DEV_CERT_DER_LEN);
  dump("key.out", lwm2m_dev_key_der_start, LWM2M_DEV_KEY_DER_LEN);
  dump("ca.out", lwm2m_dev_server_ca_der_start, LWM2M_DEV_SERVER_CA_DER_LEN);
  printf("%s\\n%s\\n%d %d %d\\n", LWM2M_DEV_ENDPOINT, LWM2M_DEV_SERVER_URI, LWM2M_DEV_BOOTSTRAP_SERVER, LWM2M_DEV_SECURITY_MODE, LWM2M_DEV_LIFETIME);
  return 0;
}
`,
    )
    gcc(['-o', 't', 'main.c', 'lwm2m_dev_cert.der.o', 'lwm2m_dev_key.der.o', 'lwm2m_dev_server_ca.der.o'], dir)
    expect(run('./t', [], dir).split('\n').slice(0, 3)).toEqual([EP, cert.serverUri, '1 2 3600'])
    expect(subjectCn(join(dir, 'cert.out'))).toBe(EP)
    expect(readFileSync(join(dir, 'ca.out'))).toEqual(serverCaDer)
    expect(pubkeyOfKey(join(dir, 'key.out'))).toBe(pubkeyOfCert(join(dir, 'cert.out')))
    const cmake = readFileSync(join(dir, 'lwm2m_dev.cmake'), 'utf8')
    expect(cmake).toContain('"${CMAKE_CURRENT_LIST_DIR}/lwm2m_dev_cert.der"')
    expect(readFileSync(join(dir, 'lwm2m_dev.sdkconfig.defaults'), 'utf8')).toContain('CONFIG_ANJAY_SECURITY_MODE_CERTIFICATES=y')
  })

  for (const [variant, cred] of [['cert', () => cert], ['psk', () => psk]] as const) {
    it(`arduino (${variant}): the single header compiles as C and C++ and carries the values`, () => {
      const dir = render('arduino', cred(), 'lwm2m_secrets.h', `arduino-${variant}`)
      const body =
        variant === 'cert'
          ? `dump("cert.der", LWM2M_DEVICE_CERT_DER, LWM2M_DEVICE_CERT_DER_LEN); dump("key.der", LWM2M_DEVICE_KEY_DER, LWM2M_DEVICE_KEY_DER_LEN);
  printf("%s", LWM2M_DEVICE_CERT_PEM);`
          : `dump("psk.bin", LWM2M_PSK, LWM2M_PSK_LEN); printf("%s %s\\n", LWM2M_PSK_IDENTITY, LWM2M_PSK_HEX);`
      writeFileSync(
        join(dir, 'main.c'),
        `#include <stdio.h>
#include "lwm2m_secrets.h"
static void dump(const char *path, const uint8_t *p, size_t n) { FILE *f = fopen(path, "wb"); fwrite(p, 1, n, f); fclose(f); }
int main(void) {
  printf("%s\\n%s\\n%u %u\\n", LWM2M_ENDPOINT, LWM2M_SERVER_URI, (unsigned)LWM2M_SECURITY_MODE, (unsigned)LWM2M_SHORT_SERVER_ID);
  ${body}
  return 0;
}
`,
      )
      gcc(['-o', 't', 'main.c'], dir)
      run('g++', ['-Wall', '-Wextra', '-Werror', '-x', 'c++', '-c', '-o', 'cpp.o', 'main.c'], dir)
      const out = run('./t', [], dir)
      expect(out.split('\n').slice(0, 3)).toEqual([EP, cred().serverUri, variant === 'cert' ? '2 101' : '0 101'])
      if (variant === 'cert') {
        expect(subjectCn(join(dir, 'cert.der'))).toBe(EP)
        expect(pubkeyOfKey(join(dir, 'key.der'))).toBe(pubkeyOfCert(join(dir, 'cert.der')))
        // the PEM string is the same certificate
        writeFileSync(join(dir, 'cert.pem'), out.slice(out.indexOf('-----BEGIN')))
        expect(run('openssl', ['x509', '-in', 'cert.pem', '-outform', 'der'], dir)).toBe(run('openssl', ['x509', '-inform', 'der', '-in', 'cert.der', '-outform', 'der'], dir))
      } else {
        expect(readFileSync(join(dir, 'psk.bin'))).toEqual(Buffer.from(psk.psk!))
        expect(out).toContain(`${EP} ${Buffer.from(psk.psk!).toString('hex')}`)
      }
    })
  }
})
