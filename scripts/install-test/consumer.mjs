// Run by scripts/install-test.js inside a fresh project that installed the packed tarballs:
// the ES module entry points resolve (static and dynamic import), and the client works on memory://.
import assert from 'node:assert/strict'
import ferrocache, { createClient, key, TTL } from 'ferrocache'
import { rateLimit } from 'ferrocache/express'

assert.equal(ferrocache.createClient, createClient)
assert.equal(typeof key, 'function')
assert.equal(typeof TTL, 'object')
assert.equal(typeof rateLimit, 'function')
const dynamic = await import('ferrocache')
assert.equal(dynamic.createClient, createClient)

const client = await createClient('memory://')
try {
  await client.cache.set('menu', ['soup', 'bread'], { ttl: '1m' })
  assert.deepEqual(await client.cache.get('menu'), ['soup', 'bread'])
  assert.deepEqual(await client.cache.getOrSet('menu', () => ['never']), ['soup', 'bread'])
} finally {
  await client.close()
}
console.log('consumer.mjs: ok')
