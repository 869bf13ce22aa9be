// One allocating process of the concurrency figure and of test/integration/manifest/concurrency.test.ts: `node alloc-worker.js LOCATION MODE WORKER COUNT CHUNK`.
// MODE seq: "next CHUNK" of one shared {seq} template (allocateSeq + insertMany) until COUNT names are issued;
// MODE names: explicit names w<WORKER>-<k>, CHUNK a batch. Uses the compiled dist/ (npm test builds first).
import { openManifest } from '../../dist/core/manifest/open.js'

const [location, mode, worker, countArg, chunkArg] = process.argv.slice(2)
const count = Number(countArg)
const chunk = Number(chunkArg)
const template = 'conc-{seq:06}'
const store = await openManifest(location)
const row = (endpoint, seq) => ({
  endpoint,
  batch: `w${worker}`,
  mode: 'direct',
  security: 'nosec',
  serverUri: 'coap://lwm2m.example.com:5683',
  status: 'generated',
  developer: false,
  ...(seq === undefined ? {} : { template, seq }),
})
try {
  for (let done = 0; done < count; done += chunk) {
    const n = Math.min(chunk, count - done)
    if (mode === 'seq') {
      const first = await store.allocateSeq(template, n)
      await store.insertMany(Array.from({ length: n }, (_, i) => row(`conc-${String(first + i).padStart(6, '0')}`, first + i)))
    } else {
      await store.insertMany(Array.from({ length: n }, (_, i) => row(`w${worker}-${done + i}`)))
    }
  }
} finally {
  await store.close()
}
