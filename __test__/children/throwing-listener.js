// Child of listener-throws.spec.ts: a client whose every event listener throws, under load while
// the parent stops and restarts its Redis. Lines on stdout: "loaded" once calls are in flight,
// "failing" once calls fail (the server is down), then one JSON line with what happened.
'use strict'
const { createClient } = require('../../index')

const url = process.argv[2]
let uncaught = 0
process.on('uncaughtException', (err) => {
  if (err && err.message === 'listener boom') uncaught++
  else throw err
})

async function main() {
  const c = await createClient({ url, commandTimeoutMs: 2000, connectTimeoutMs: 2000 })
  for (const name of ['reconnecting', 'ready', 'error']) {
    c.on(name, () => {
      throw new Error('listener boom')
    })
  }
  let issued = 0
  let settled = 0
  let failed = 0
  let okAfterFailure = false
  let running = true
  const worker = async () => {
    while (running) {
      issued++
      try {
        await c.set('k', issued)
        if (failed > 0) okAfterFailure = true
      } catch {
        failed++
        if (failed === 1) process.stdout.write('failing\n')
      } finally {
        settled++
      }
    }
  }
  const workers = Array.from({ length: 200 }, worker)
  process.stdout.write('loaded\n')
  const deadline = Date.now() + 25000
  while (!okAfterFailure && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  running = false
  await Promise.all(workers)
  await c.close()
  process.stdout.write(JSON.stringify({ issued, settled, failed, okAfterFailure, uncaught, closed: true }) + '\n')
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ fatal: String(err && err.stack) }) + '\n')
  process.exitCode = 1
})
