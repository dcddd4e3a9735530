'use strict'
// Another process of the app, for __test__/coherence.spec.ts: it opens its own client with the
// options given as argv[2] (JSON), prints {"ready":true}, then runs one request per stdin line,
// {"id", "op", "args"}, and answers each on stdout: {"id", "result"}, {"id", "undefined": true}
// or {"id", "error": {code, message}}. The op "close" closes the client and ends the process.

const readline = require('node:readline')
const { createClient } = require('../index')

const reply = (msg) => process.stdout.write(JSON.stringify(msg) + '\n')

const ops = {
  getOrSet: (c, key, value, opts) => c.cache.getOrSet(key, () => value, opts),
  get: (c, key) => c.cache.get(key),
  peek: (c, key) => c.cache.peek(key),
  set: (c, key, value) => c.set(key, value),
  invalidate: (c, pattern) => c.cache.invalidate(pattern),
  invalidateTags: (c, tags) => c.cache.invalidateTags(tags),
}

async function main() {
  const client = await createClient(JSON.parse(process.argv[2]))
  const lines = readline.createInterface({ input: process.stdin })
  reply({ ready: true })
  for await (const line of lines) {
    const { id, op, args } = JSON.parse(line)
    if (op === 'close') {
      await client.close()
      reply({ id, undefined: true })
      // An open stdin would keep this process alive.
      process.stdin.destroy()
      return
    }
    try {
      const result = await ops[op](client, ...args)
      reply(result === undefined ? { id, undefined: true } : { id, result })
    } catch (err) {
      reply({ id, error: { code: err.code, message: err.message } })
    }
  }
  await client.close()
}

main().catch((err) => {
  process.stderr.write(`peer failed: ${err.stack}\n`)
  process.exit(1)
})
