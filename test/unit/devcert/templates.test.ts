import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { describe, expect, it } from 'vitest'

import { buildDevcertModel } from '../../../src/core/devcert/model.js'
import { checkTemplate, listBuiltinTemplates, loadTemplate, renderTemplateFiles, templateWarnings } from '../../../src/core/devcert/templates.js'
import type { LwprovError } from '../../../src/core/errors.js'
import type { CredentialSet, DeviceInfo } from '../../../src/core/model.js'
import { CERT_DER, certCredential, DEVICE, GENERATOR, KEY_DER, NOW, PSK, pskCredential, SERVER_CA_DER } from './fixtures.js'

function model(credential: CredentialSet, template: string, outName: string, device?: DeviceInfo) {
  return buildDevcertModel({ credential, template, outName, generatedAt: NOW, generator: GENERATOR, ...(device ? { device } : {}) })
}

/** Every built-in template × the variants it supports, with its conventional output name. */
const CASES: Array<{ template: string; variant: string; out: string; credential: CredentialSet; device?: DeviceInfo }> = [
  { template: 'izuma', variant: 'bootstrap-cert', out: 'mbed_cloud_dev_credentials.c', credential: certCredential() },
  { template: 'izuma', variant: 'device-info', out: 'mbed_cloud_dev_credentials.c', credential: certCredential(), device: DEVICE },
  { template: 'c', variant: 'bootstrap-cert', out: 'lwm2m_dev_credentials.c', credential: certCredential() },
  { template: 'c', variant: 'direct-cert-no-server-ca', out: 'lwm2m_dev_credentials.c', credential: certCredential({ mode: 'direct', serverCaDer: undefined, certificateUsage: undefined, serverUri: 'coaps://lwm2m.example.com:5684' }) },
  { template: 'c', variant: 'direct-psk', out: 'lwm2m_dev_credentials.c', credential: pskCredential() },
  { template: 'zephyr', variant: 'bootstrap-cert', out: 'dev_credentials.c', credential: certCredential() },
  { template: 'zephyr', variant: 'direct-psk', out: 'dev_credentials.c', credential: pskCredential() },
  { template: 'esp-idf', variant: 'bootstrap-cert', out: 'lwm2m_dev.h', credential: certCredential() },
  { template: 'esp-idf', variant: 'direct-psk', out: 'lwm2m_dev.h', credential: pskCredential() },
  { template: 'arduino', variant: 'bootstrap-cert', out: 'lwm2m_secrets.h', credential: certCredential() },
  { template: 'arduino', variant: 'direct-psk', out: 'lwm2m_secrets.h', credential: pskCredential() },
]

describe('built-in devcert templates (golden files)', () => {
  it('are the five documented ones', () => {
    expect(listBuiltinTemplates()).toEqual(['arduino', 'c', 'esp-idf', 'izuma', 'zephyr'])
  })

  for (const c of CASES) {
    it(`${c.template} / ${c.variant}`, async () => {
      const t = loadTemplate(c.template)
      const m = model(c.credential, c.template, c.out, c.device)
      checkTemplate(t, m)
      const files = renderTemplateFiles(t, m)
      expect(files[0]!.name).toBe(c.out)
      for (const f of files) {
        if (/\.(der|bin)$/.test(f.name)) continue
        await expect(f.content.toString('utf8')).toMatchFileSnapshot(`__snapshots__/${c.template}/${c.variant}/${f.name}`)
      }
      // rendering is deterministic for fixed inputs
      expect(renderTemplateFiles(t, m)).toEqual(files)
    })
  }

  it('c writes X.h beside X.c', () => {
    const files = renderTemplateFiles(loadTemplate('c'), model(certCredential(), 'c', 'creds.c'))
    expect(files.map((f) => f.name)).toEqual(['creds.c', 'creds.h'])
    expect(files[0]!.content.toString()).toContain('#include "creds.h"')
    expect(files[1]!.content.toString()).toContain('#ifndef CREDS_H')
  })

  it('esp-idf writes the raw DER / PSK files that EMBED_FILES embeds', () => {
    const cert = renderTemplateFiles(loadTemplate('esp-idf'), model(certCredential(), 'esp-idf', 'dev.h'))
    expect(cert.map((f) => f.name)).toEqual(['dev.h', 'dev_cert.der', 'dev_key.der', 'dev_server_ca.der', 'dev.cmake', 'dev.sdkconfig.defaults'])
    expect(cert[1]!.content.equals(CERT_DER)).toBe(true)
    expect(cert[2]!.content.equals(KEY_DER)).toBe(true)
    expect(cert[3]!.content.equals(SERVER_CA_DER)).toBe(true)
    const psk = renderTemplateFiles(loadTemplate('esp-idf'), model(pskCredential(), 'esp-idf', 'dev.h'))
    expect(psk.map((f) => f.name)).toEqual(['dev.h', 'dev_psk.bin', 'dev.cmake', 'dev.sdkconfig.defaults'])
    expect(psk[1]!.content.equals(PSK)).toBe(true)
  })

  it('zephyr puts the PSK into Kconfig as hex', () => {
    const files = renderTemplateFiles(loadTemplate('zephyr'), model(pskCredential(), 'zephyr', 'dev.c'))
    const conf = files.find((f) => f.name === 'dev.conf')!.content.toString()
    expect(conf).toContain(`CONFIG_NET_SAMPLE_LWM2M_PSK="${PSK.toString('hex')}"`)
    expect(conf).toContain('CONFIG_NET_SAMPLE_LWM2M_ID="dev-snap-0001"')
    expect(conf).not.toContain('RD_CLIENT_SUPPORT_BOOTSTRAP')
  })

  it('izuma keeps the portal layout: names, order, uint32_t sizes, no #error guard', () => {
    const text = renderTemplateFiles(loadTemplate('izuma'), model(certCredential(), 'izuma', 'mbed_cloud_dev_credentials.c'))[0]!.content.toString()
    const names = [...text.matchAll(/^const (?:char|uint8_t|uint32_t) (MBED_CLOUD_DEV_\w+)/gm)].map((m) => m[1])
    expect(names).toEqual([
      'MBED_CLOUD_DEV_BOOTSTRAP_ENDPOINT_NAME',
      'MBED_CLOUD_DEV_ACCOUNT_ID',
      'MBED_CLOUD_DEV_BOOTSTRAP_SERVER_URI',
      'MBED_CLOUD_DEV_BOOTSTRAP_DEVICE_CERTIFICATE',
      'MBED_CLOUD_DEV_BOOTSTRAP_SERVER_ROOT_CA_CERTIFICATE',
      'MBED_CLOUD_DEV_BOOTSTRAP_DEVICE_PRIVATE_KEY',
      'MBED_CLOUD_DEV_MANUFACTURER',
      'MBED_CLOUD_DEV_MODEL_NUMBER',
      'MBED_CLOUD_DEV_SERIAL_NUMBER',
      'MBED_CLOUD_DEV_DEVICE_TYPE',
      'MBED_CLOUD_DEV_HARDWARE_VERSION',
      'MBED_CLOUD_DEV_MEMORY_TOTAL_KB',
      'MBED_CLOUD_DEV_BOOTSTRAP_DEVICE_CERTIFICATE_SIZE',
      'MBED_CLOUD_DEV_BOOTSTRAP_SERVER_ROOT_CA_CERTIFICATE_SIZE',
      'MBED_CLOUD_DEV_BOOTSTRAP_DEVICE_PRIVATE_KEY_SIZE',
    ])
    expect(text).not.toMatch(/#error|#warning/)
    expect(text).toContain('const char MBED_CLOUD_DEV_MANUFACTURER[] = "dev_manufacturer";')
    expect(text).toContain('const char MBED_CLOUD_DEV_ACCOUNT_ID[] = "0123456789abcdef0123456789abcdef";')
    expect(text).toContain('{ 0x30, 0x82, ')
    // the embedded bytes are exactly the DER, 8 per line like the portal's file
    const arr = /MBED_CLOUD_DEV_BOOTSTRAP_DEVICE_CERTIFICATE\[\] =\n\{ ([^}]*) \};/.exec(text)![1]!
    expect(Buffer.from(arr.split(/,\s*/).map((h) => Number.parseInt(h, 16)))).toEqual(CERT_DER)
    expect(arr.split('\n')[0]!.split(',').filter((s) => s.trim()).length).toBe(8)
  })

  it('izuma refuses PSK credentials and a missing server CA before anything is issued', () => {
    const t = loadTemplate('izuma')
    const e1 = (() => {
      try {
        checkTemplate(t, model(pskCredential(), 'izuma', 'x.c'))
      } catch (e) {
        return e as LwprovError
      }
    })()
    expect(e1?.code).toBe('E_DEVCERT_SECURITY')
    const e2 = (() => {
      try {
        checkTemplate(t, model(certCredential({ serverCaDer: undefined }), 'izuma', 'x.c'))
      } catch (e) {
        return e as LwprovError
      }
    })()
    expect(e2?.code).toBe('E_DEVCERT_REQUIRES')
    expect(e2?.hint).toContain('--server-ca')
    expect(e2?.exitCode).toBe(2)
  })

  it('izuma warns when the URI has no aid=', () => {
    const t = loadTemplate('izuma')
    expect(templateWarnings(t, model(certCredential(), 'izuma', 'x.c'))).toEqual([])
    expect(templateWarnings(t, model(certCredential({ serverUri: 'coaps://bs.example.com:5684' }), 'izuma', 'x.c'))[0]).toContain('aid=')
  })
})

describe('user templates', () => {
  const tmp = () => mkdtempSync(join(tmpdir(), 'lwprov-usertpl-'))
  const codeOf = (fn: () => unknown) => {
    try {
      fn()
    } catch (e) {
      return (e as LwprovError).code
    }
    return undefined
  }

  it('a single file renders to --out', () => {
    const d = tmp()
    writeFileSync(join(d, 'mine.tmpl'), '#define EP {{endpoint | c_string}}\n#define FP "{{fingerprint}}"\n')
    const t = loadTemplate(join(d, 'mine.tmpl'))
    const files = renderTemplateFiles(t, model(certCredential(), t.id, 'ep.h'))
    expect(files).toHaveLength(1)
    expect(files[0]!.name).toBe('ep.h')
    expect(files[0]!.content.toString()).toMatch(/^#define EP "dev-snap-0001"\n#define FP "[0-9a-f]{64}"\n$/)
  })

  it('a directory with template.json: several files, raw data files, requires and warnings', () => {
    const d = tmp()
    writeFileSync(
      join(d, 'template.json'),
      JSON.stringify({
        name: 'mine',
        description: 'x',
        security: ['cert'],
        requires: [{ when: 'accountId', message: 'needs an account', hint: 'pass --account-id' }],
        warnings: [{ when: 'bootstrap', message: 'bootstrap!' }],
        files: [
          { path: '{{out.name}}', template: 'a.tmpl' },
          { path: '{{out.stem}}.der', data: 'certificate', when: 'certificate' },
        ],
      }),
    )
    writeFileSync(join(d, 'a.tmpl'), '{{endpoint}}')
    const t = loadTemplate(d)
    const m = model(certCredential(), t.id, 'x.txt')
    checkTemplate(t, m)
    expect(templateWarnings(t, m)).toEqual(['bootstrap!'])
    const files = renderTemplateFiles(t, m)
    expect(files.map((f) => f.name)).toEqual(['x.txt', 'x.der'])
    expect(files[1]!.content.equals(CERT_DER)).toBe(true)
    expect(codeOf(() => checkTemplate(t, model(certCredential({ accountId: undefined, serverUri: 'coaps://h:5684' }), t.id, 'x.txt')))).toBe('E_DEVCERT_REQUIRES')
    expect(codeOf(() => checkTemplate(t, model(pskCredential(), t.id, 'x.txt')))).toBe('E_DEVCERT_SECURITY')
  })

  it('marks the files that carry the key or PSK, and only those', () => {
    const d = tmp()
    writeFileSync(join(d, 'cert.tmpl'), '{{certificate | pem "CERTIFICATE"}}')
    writeFileSync(join(d, 'key.tmpl'), '{{key | hex}}')
    writeFileSync(
      join(d, 'template.json'),
      JSON.stringify({ name: 'm', description: '', files: [{ path: '{{out.stem}}.crt', template: 'cert.tmpl' }, { path: '{{out.stem}}.key', template: 'key.tmpl' }, { path: '{{out.stem}}.der', data: 'certificate' }] }),
    )
    const files = renderTemplateFiles(loadTemplate(d), model(certCredential(), 'm', 'x.c'))
    expect(files.map((f) => [f.name, f.secret])).toEqual([['x.crt', false], ['x.key', true], ['x.der', false]])
  })

  it('output names must be plain file names and distinct', () => {
    const d = tmp()
    writeFileSync(join(d, 'a.tmpl'), 'a')
    writeFileSync(join(d, 'template.json'), JSON.stringify({ name: 'm', description: '', files: [{ path: '../{{out.name}}', template: 'a.tmpl' }] }))
    expect(codeOf(() => renderTemplateFiles(loadTemplate(d), model(certCredential(), 'm', 'x.c')))).toBe('E_DEVCERT_TEMPLATE')
    expect(codeOf(() => renderTemplateFiles(loadTemplate('c'), model(certCredential(), 'c', 'x.h')))).toBe('E_DEVCERT_OUT_COLLISION')
  })

  it('unknown names, unreadable paths and broken manifests are coded errors', () => {
    expect(codeOf(() => loadTemplate('nope'))).toBe('E_DEVCERT_TEMPLATE_UNKNOWN')
    expect(codeOf(() => loadTemplate('/does/not/exist.tmpl'))).toBe('E_DEVCERT_TEMPLATE_UNREADABLE')
    const d = tmp()
    writeFileSync(join(d, 'template.json'), '{ not json')
    expect(codeOf(() => loadTemplate(d))).toBe('E_DEVCERT_TEMPLATE')
    writeFileSync(join(d, 'template.json'), JSON.stringify({ name: 'm', files: [{ path: 'x' }] }))
    expect(codeOf(() => loadTemplate(d))).toBe('E_DEVCERT_TEMPLATE')
  })
})
