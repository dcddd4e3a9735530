'use strict'
// Run by the memory case as `node --expose-gc memory-child.js <impl> <url> <n>`:
// fills one L1 with n distinct 1 KB objects and prints, as JSON, how much the
// process grew (RSS, V8 heap, external) from the moment the cache was built.

const { LRUCache } = require('lru-cache')
const { object1k } = require('./data')

const [impl, url, count] = process.argv.slice(2)
const n = Number(count)

function settle() {
  for (let i = 0; i < 4; i++) global.gc()
  return process.memoryUsage()
}

/** Builds the cache; returns { put(key, obj), entries(), close() }. */
async function build() {
  if (impl === 'lru-cache') {
    const lru = new LRUCache({ max: 200000 })
    return { put: (k, o) => lru.set(k, o), entries: () => lru.size, close: async () => {} }
  }
  const { createClient } = require('..')
  const c = await createClient({ url, failFast: true, local: { maxEntries: 200000, maxBytes: 512 * 1024 * 1024, ttl: 3600 } })
  // One write first, so the baseline includes the client's own warm-up allocations.
  await c.cache.set('mem:warm', object1k(-1), { ttl: 3600 })
  await c.cache.delete('mem:warm')
  return {
    put: (k, o) => c.cache.set(k, o, { ttl: 3600 }),
    entries: () => c.cache.stats().local.entries,
    close: () => c.close(),
  }
}

async function main() {
  const cache = await build()
  const before = settle()
  for (let i = 0; i < n; i += 1000) {
    const batch = []
    for (let j = i; j < Math.min(n, i + 1000); j++) batch.push(cache.put(`mem:${j}`, object1k(j)))
    await Promise.all(batch)
  }
  const after = settle()
  const payloadBytes = n * Buffer.byteLength(JSON.stringify(object1k(0)))
  const out = {
    entries: cache.entries(),
    payloadBytes,
    rssBytes: after.rss - before.rss,
    heapBytes: after.heapUsed - before.heapUsed,
    externalBytes: after.external - before.external,
  }
  await cache.close()
  process.stdout.write(JSON.stringify(out) + '\n')
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`)
  process.exit(1)
})
