'use strict'
// A cache-aside miss on a new key each time, awaited one by one: the loader
// returns a 1 KB object synchronously and the result is written with a 60 s TTL.

const { object1k } = require('../data')

const OBJECTS = Array.from({ length: 1024 }, (_, i) => object1k(i))

/** An op over fresh keys `<prefix><n>`, handing `fn` the key and a loader. */
function fresh(prefix, fn) {
  let n = 0
  return () => {
    const i = n++
    return fn(prefix + i, () => OBJECTS[i & 1023])
  }
}

module.exports = {
  name: 'getOrSet miss with a loader',
  concurrency: 1,
  note: 'Unique keys. ferrocache `cache.getOrSet(k, loader, { ttl: 60 })`; ioredis: GET (miss), loader, `SET k JSON EX 60`.',
  async setup({ pool }) {
    const f = await pool.ferrocache()
    const io = await pool.ioredis()
    const opts = { ttl: 60 }
    const handWritten = async (k, load) => {
      const raw = await io.get(k)
      if (raw !== null) return JSON.parse(raw)
      const value = load()
      await io.set(k, JSON.stringify(value), 'EX', 60)
      return value
    }
    return [
      { name: 'ferrocache cache.getOrSet', role: 'subject', op: fresh('bench:miss:ferro:', (k, load) => f.cache.getOrSet(k, load, opts)) },
      { name: 'ioredis GET + loader + SET EX', role: 'peer', op: fresh('bench:miss:ioredis:', handWritten) },
    ]
  },
}
