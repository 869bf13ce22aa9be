// Regenerates the "Error codes" block of README.md from src/core/error-codes.ts: node scripts/readme-error-codes.js
import { readFileSync, writeFileSync } from 'node:fs'
const src = readFileSync('src/core/error-codes.ts', 'utf8')
const entries = [...src.matchAll(/^\s+(E_[A-Z0-9_]+): '(\w+)',$/gm)].map((m) => [m[1], m[2]])
const EXIT = { usage: 2, conflict: 3, device: 4, transport: 5, crypto: 6, interrupted: 130, bug: 1 }
const MEANING = { usage: 'bad or missing input: fix the flags/files and re-run (nothing was written)', conflict: 'the manifest or a CA says otherwise (duplicate, taken, exhausted, policy)', device: 'the device refused or misbehaved', transport: 'link, port, timeout or database connection', crypto: 'keys, certificates, sealed secrets', interrupted: 'Ctrl-C', bug: 'a bug in lwprov: please report it' }
let t = '| exit | family | codes |\n|---|---|---|\n'
for (const f of ['usage', 'conflict', 'device', 'transport', 'crypto', 'interrupted', 'bug']) {
  const codes = entries.filter(([, x]) => x === f).map(([c]) => `\`${c}\``)
  t += `| ${EXIT[f]} ${f} | ${MEANING[f]} | ${codes.join(' ')} |\n`
}
t += '| 4 device / 5 transport | generated | `E_FCC_<status>` (FCC ReturnStatus, device) and `E_FTCD_<status>` (FCC transport status) |\n'
const readme = readFileSync('README.md', 'utf8')
const begin = '<!-- error-codes:begin -->', end = '<!-- error-codes:end -->'
const block = `${begin}\n${t}${end}`
const out = readme.includes(begin) ? readme.replace(new RegExp(`${begin}[\\s\\S]*${end}`), block) : readme.replace('## Layout', `## Error codes\n\nEvery failure is one coded error (\`--json\`: \`{"status":N,"error":{code,message,hint}}\`); the code decides the exit\nfamily, from one table (\`src/core/error-codes.ts\`; \`test/unit/error-codes.test.ts\` checks that every code thrown is in it\nonce, with its family, and listed here once).\n\n${block}\n\n## Layout`)
writeFileSync('README.md', out)
