'use strict'
// SET of a 1 KB object as JSON with a 60 s TTL, 64 in flight. Every
// implementation serializes the object on each call, as an app would.

const { object1k } = require('../data')

const N = 1024
const KEYS = Array.from({ length: N }, (_, i) => `bench:set:${i}`)
const OBJECTS = Array.from({ length: N }, (_, i) => object1k(i))

/** An op that applies `fn` to the (key, object) pairs in turn. */
function cycle(fn) {
  let n = 0
  return () => {
    const i = n++ & (N - 1)
    return fn(KEYS[i], OBJECTS[i])
  }
}

module.exports = {
  name: 'SET 1 KB JSON EX 60, 64 in flight',
  concurrency: 64,
  note: 'ferrocache `client.set(k, obj, { ttl: 60 })` (it JSON-stringifies, SET PX); the peers `SET k JSON.stringify(obj) EX 60`.',
  async setup({ pool }) {
    const f = await pool.ferrocache()
    const io = await pool.ioredis()
    const auto = await pool.ioredis({ enableAutoPipelining: true })
    const nr = await pool.nodeRedis()
    const ex60 = { expiration: { type: 'EX', value: 60 } }
    return [
      { name: 'ferrocache client.set', role: 'subject', op: cycle((k, o) => f.set(k, o, { ttl: 60 })) },
      { name: 'ioredis', role: 'peer', op: cycle((k, o) => io.set(k, JSON.stringify(o), 'EX', 60)) },
      { name: 'ioredis autoPipelining', role: 'peer', op: cycle((k, o) => auto.set(k, JSON.stringify(o), 'EX', 60)) },
      { name: 'node-redis', role: 'peer', op: cycle((k, o) => nr.set(k, JSON.stringify(o), ex60)) },
    ]
  },
}
