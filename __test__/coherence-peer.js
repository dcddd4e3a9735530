'use strict'
// Another process of the app, for __test__/peer.ts: it opens its own client with the options
// given as argv[2] (JSON), prints {"ready":true}, then runs one request per stdin line,
// {"id", "op", "args"}, each at once (requests overlap, as an app's do), and answers each on
// stdout: {"id", "result"}, {"id", "undefined": true} or {"id", "error": {code, message}}. The
// op "close" waits for the requests in flight, closes the client and ends the process.

const readline = require('node:readline')
const { createClient } = require('../index')

const reply = (msg) => process.stdout.write(JSON.stringify(msg) + '\n')

const ops = {
  getOrSet: (c, key, value, opts) => c.cache.getOrSet(key, () => value, opts),
  get: (c, key) => c.cache.get(key),
  peek: (c, key) => c.cache.peek(key),
  set: (c, key, value) => c.set(key, value),
  del: (c, key) => c.del(key),
  getdel: (c, key) => c.getdel(key),
  cacheSet: (c, key, value, opts) => c.cache.set(key, value, opts),
  invalidate: (c, pattern) => c.cache.invalidate(pattern),
  invalidateTags: (c, tags) => c.cache.invalidateTags(tags),
}

async function run(client, { id, op, args }) {
  try {
    const result = await ops[op](client, ...args)
    reply(result === undefined ? { id, undefined: true } : { id, result })
  } catch (err) {
    reply({ id, error: { code: err.code, message: err.message } })
  }
}

async function main() {
  const client = await createClient(JSON.parse(process.argv[2]))
  const lines = readline.createInterface({ input: process.stdin })
  reply({ ready: true })
  const running = new Set()
  for await (const line of lines) {
    const request = JSON.parse(line)
    if (request.op === 'close') {
      await Promise.all(running)
      await client.close()
      reply({ id: request.id, undefined: true })
      // An open stdin would keep this process alive.
      process.stdin.destroy()
      return
    }
    const p = run(client, request)
    running.add(p)
    p.then(() => running.delete(p))
  }
  await Promise.all(running)
  await client.close()
}

main().catch((err) => {
  process.stderr.write(`peer failed: ${err.stack}\n`)
  process.exit(1)
})
