'use strict'
// A warm cache-aside read of a 1 KB object, awaited one by one: ferrocache's
// L1 hit against what apps hand-write (Redis GET + JSON.parse) and against an
// in-process LRU that stores the JSON text (get + JSON.parse).

const { LRUCache } = require('lru-cache')
const { object1k } = require('../data')

const N = 1024
const KEYS = Array.from({ length: N }, (_, i) => `bench:obj:${i}`)

function cycle(fn) {
  let n = 0
  return () => fn(KEYS[n++ & (N - 1)])
}

const loader = () => {
  throw new Error('the loader ran: the benchmark expected an L1 hit')
}

module.exports = {
  name: 'getOrSet L1 hit, 1 KB object',
  concurrency: 1,
  note:
    'ferrocache `cache.getOrSet(k, loader)` with every key in L1 (the loader never runs). ' +
    'The `{ ttl: 300 }` line passes an options literal on each call, as most apps do; ' +
    'the lru-cache object line is a reference (no parse, no Redis), not a target.',
  async setup({ pool }) {
    // L1 ttl 1 h: no entry expires during the case.
    const f = await pool.ferrocache({ local: { ttl: 3600 } })
    for (let i = 0; i < N; i++) await f.cache.getOrSet(KEYS[i], () => object1k(i), { ttl: 3600 })
    const io = await pool.ioredis()
    const asText = new LRUCache({ max: 10000 })
    const asObject = new LRUCache({ max: 10000 })
    KEYS.forEach((k, i) => {
      asText.set(k, JSON.stringify(object1k(i)))
      asObject.set(k, object1k(i))
    })
    return [
      { name: 'ferrocache cache.getOrSet', role: 'subject', op: cycle((k) => f.cache.getOrSet(k, loader)) },
      { name: 'ferrocache getOrSet, { ttl: 300 }', role: 'reference', op: cycle((k) => f.cache.getOrSet(k, loader, { ttl: 300 })) },
      { name: 'ioredis GET + JSON.parse', role: 'peer', op: cycle(async (k) => JSON.parse(await io.get(k))) },
      { name: 'lru-cache get + JSON.parse', role: 'peer', op: cycle((k) => JSON.parse(asText.get(k))) },
      { name: 'lru-cache get (object)', role: 'reference', op: cycle((k) => asObject.get(k)) },
    ]
  },
}
