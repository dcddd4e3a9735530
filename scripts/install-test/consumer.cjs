// Run by scripts/install-test.js inside a fresh project that installed the packed tarballs:
// the CommonJS entry points resolve, and the client works on the embedded memory:// backend.
'use strict'

const assert = require('node:assert/strict')
const { createClient, FerroError } = require('ferrocache')
const { cacheResponse } = require('ferrocache/express')

async function main() {
  assert.equal(typeof FerroError, 'function')
  assert.equal(typeof cacheResponse, 'function')
  const client = await createClient('memory://')
  try {
    assert.equal(await client.set('greeting', { hello: 'world' }), true)
    assert.deepEqual(await client.get('greeting'), { hello: 'world' })
    let loads = 0
    const load = () => ++loads
    assert.equal(await client.cache.getOrSet('answer', load, { ttl: '1m' }), 1)
    assert.equal(await client.cache.getOrSet('answer', load, { ttl: '1m' }), 1)
    assert.equal(loads, 1)
  } finally {
    await client.close()
  }
  console.log(`consumer.cjs: ok (${require.resolve('ferrocache')})`)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
