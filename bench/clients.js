'use strict'
// Connections for one case: ferrocache and the peers, all to the same server,
// tracked so the runner closes every one of them when the case ends.

const Redis = require('ioredis')
const nodeRedis = require('redis')
const ferrocache = require('..')

function clientPool(url) {
  const closers = []
  const track = (client, close) => {
    closers.push(close)
    return client
  }
  return {
    async ferrocache(options = {}) {
      const c = await ferrocache.createClient({ url, failFast: true, ...options })
      return track(c, () => c.close())
    },
    async ioredis(options = {}) {
      const c = new Redis(url, { lazyConnect: true, ...options })
      await c.connect()
      return track(c, () => c.quit())
    },
    async nodeRedis() {
      const c = nodeRedis.createClient({ url })
      c.on('error', () => {}) // reported by the failing commands themselves
      await c.connect()
      return track(c, () => c.close())
    },
    async closeAll() {
      const all = closers.splice(0)
      await Promise.allSettled(all.map((close) => close()))
    },
  }
}

module.exports = { clientPool }
