'use strict'
// GET of a 100-byte value, awaited one by one and with 64 in flight.
// ferrocache's client.get JSON-parses the value; the peers return the raw string.

const { VALUE_100 } = require('../data')

const KEYS = Array.from({ length: 1024 }, (_, i) => `bench:get:${i}`)

function getCase(concurrency) {
  return {
    name: concurrency === 1 ? 'GET 100 B, sequential' : `GET 100 B, ${concurrency} in flight`,
    concurrency,
    note: 'ferrocache `client.get` JSON-parses the value; the peers return the string as is.',
    async setup({ pool, control }) {
      await control.mset(KEYS.flatMap((k) => [k, VALUE_100]))
      const f = await pool.ferrocache()
      const io = await pool.ioredis()
      const nr = await pool.nodeRedis()
      const impls = [
        { name: 'ferrocache client.get', role: 'subject', op: cycle((k) => f.get(k)) },
        { name: 'ioredis', role: 'peer', op: cycle((k) => io.get(k)) },
      ]
      if (concurrency > 1) {
        const auto = await pool.ioredis({ enableAutoPipelining: true })
        impls.push({ name: 'ioredis autoPipelining', role: 'peer', op: cycle((k) => auto.get(k)) })
      }
      impls.push({ name: 'node-redis', role: 'peer', op: cycle((k) => nr.get(k)) })
      return impls
    },
  }
}

/** An op that applies `fn` to the keys in turn. */
function cycle(fn) {
  let n = 0
  return () => fn(KEYS[n++ & 1023])
}

module.exports = [getCase(1), getCase(64)]
