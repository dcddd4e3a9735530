'use strict'
// Run by soak.spec.ts in a Node process of its own (`node --expose-gc`), so that what it measures
// is this library's memory and file descriptors, not Jest's. It prints one JSON line.
//
// argv[2] is a JSON object { mode, url, prefix, cycles, warmup }:
//   'closed'   each cycle creates a client, sets and gets a key, and closes it;
//   'dropped'  the same, but the client is dropped without close().
//     Prints { before, after, peakFds, cycles }: before/after are { heap, rss, fds } (JS heap used,
//     anonymous RSS, open descriptors) read after GC at the end of `warmup` cycles and after
//     `cycles` more; peakFds the most descriptors seen after a cycle.
//   'inflight' one client is dropped while a BLPOP of it waits; GC runs; another client pushes.
//     Prints { reply, before, during, after }: the BLPOP's reply, and the descriptors before the
//     client, while it waited, and once it was idle and collected.
const fs = require('node:fs')
const { createClient } = require('..')

const { mode, url, prefix, cycles, warmup } = JSON.parse(process.argv[2])
if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc')

const options = { url, keyPrefix: prefix, commandTimeoutMs: 15000, connectTimeoutMs: 15000 }
const turn = () => new Promise((resolve) => setImmediate(resolve))
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const fds = () => fs.readdirSync('/proc/self/fd').length
/**
 * The resident anonymous memory (malloc'd and V8's), in bytes: the part of the RSS a leak grows.
 * The rest is file-backed, mostly the code of `node` and of the addon, paged in as code runs for
 * the first time (V8's optimizing compiler, say, once functions get hot): MBs that are no leak.
 */
function rssAnon() {
  const kb = /^RssAnon:\s+(\d+) kB$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))
  if (kb === null) throw new Error('no RssAnon in /proc/self/status')
  return Number(kb[1]) * 1024
}

/** Collects garbage until native finalizers (run after GC, on later loop turns) have run too. */
async function collect() {
  for (let i = 0; i < 8; i++) {
    global.gc()
    await turn()
    await pause(5)
  }
}

/**
 * Memory and descriptors after GC. A socket is closed on a tokio thread after close() (or the
 * finalizer) returns, and its event-loop handle a loop turn later: descriptors are read again, a
 * bounded number of times, until they are back to `fdTarget`. A client that really keeps its
 * sockets fails the test on the amount.
 */
async function measure(fdTarget) {
  await collect()
  for (let i = 0; i < 40 && fdTarget !== undefined && fds() > fdTarget; i++) {
    await pause(50)
    await collect()
  }
  return { heap: process.memoryUsage().heapUsed, rss: rssAnon(), fds: fds() }
}

async function cycle(i) {
  const client = await createClient(options)
  if ((await client.set('k', { i })) !== true) throw new Error('set did not resolve true')
  const got = await client.get('k')
  if (!got || got.i !== i) throw new Error(`get returned ${JSON.stringify(got)}`)
  if (mode === 'closed') await client.close()
}

async function soak() {
  for (let i = 0; i < warmup; i++) await cycle(i)
  const before = await measure()
  let peakFds = before.fds
  for (let i = 0; i < cycles; i++) {
    await cycle(i)
    peakFds = Math.max(peakFds, fds())
  }
  const after = await measure(before.fds)
  return { before, after, peakFds, cycles }
}

/** Starts a BLPOP on a client that nothing references once this returns. */
async function popOnDroppedClient() {
  const client = await createClient(options)
  return { pop: client.command(['BLPOP', `${prefix}list`, '30']) }
}

async function inflight() {
  const before = (await measure()).fds
  const { pop } = await popOnDroppedClient()
  await collect()
  const during = fds()
  const pusher = await createClient(options)
  await pusher.command(['RPUSH', `${prefix}list`, 'x'])
  await pusher.close()
  const result = { reply: await pop, before, during }
  result.after = (await measure(before)).fds
  return result
}

;(mode === 'inflight' ? inflight() : soak()).then(
  (result) => console.log(JSON.stringify(result)),
  (err) => {
    console.error(err)
    process.exitCode = 1
  },
)
