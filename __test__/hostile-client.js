'use strict'
// A ferrocache client in its own process, for __test__/hostile-server.spec.ts: a reply that
// crashed the parser (a stack overflow is a SIGSEGV) shows as this process's exit signal instead
// of killing the test runner. argv[2] is JSON: { options, hostile: args, waitMs?, recover: args }.
// Sends `hostile` once, waits `waitMs` (for a hostile reply to the client's own commands), then
// sends `recover` until it succeeds (the client reconnects after a protocol error), and prints one
// JSON line: { hostile: { code } | { value }, recovered: value | { code } }.

const { createClient } = require('../index')

/** How long the client may take to reconnect and answer again (backoff starts at 100 ms). */
const RECOVER_WITHIN_MS = 15000

async function outcome(promise) {
  try {
    return { value: await promise }
  } catch (err) {
    return { code: err.code }
  }
}

async function main() {
  const { options, hostile, waitMs = 0, recover } = JSON.parse(process.argv[2])
  const client = await createClient(options)
  const first = await outcome(client.command(hostile))
  await new Promise((resolve) => setTimeout(resolve, waitMs))
  const deadline = Date.now() + RECOVER_WITHIN_MS
  let after = await outcome(client.command(recover))
  while (after.code !== undefined && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    after = await outcome(client.command(recover))
  }
  process.stdout.write(JSON.stringify({ hostile: first, recovered: after.code === undefined ? after.value : after }) + '\n')
  await client.close()
}

main().catch((err) => {
  process.stderr.write(`hostile client failed: ${err.stack}\n`)
  process.exit(1)
})
