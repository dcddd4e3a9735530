#!/usr/bin/env node
'use strict'
// `npm run bench`: a release build of the addon, a throwaway redis-server, then
// every case with ferrocache and its peers interleaved (round r starts with a
// different implementation), tables on stdout and bench/results/latest.*.
//
//   BENCH_ROUNDS=3  BENCH_SECONDS=1.5  BENCH_WARMUP=0.5  BENCH_ONLY=<case name substring>
//   BENCH_SKIP_BUILD=1 measures whatever .node is there (the report says which build).

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { performance } = require('node:perf_hooks')
const { ensureReleaseBuild, pinAddon } = require('./build')
const { startServer } = require('./server')
const { measure, median, rotate } = require('./measure')
const { textTable, writeResults } = require('./report')

const CASE_FILES = ['get', 'set', 'getorset-hit', 'getorset-miss', 'invalidate', 'memory', 'ratelimit', 'large-reply']
const ROOT = path.resolve(__dirname, '..')
const log = (s) => console.log(s)

function settings() {
  const num = (name, dflt) => {
    const v = process.env[name]
    if (v === undefined || v === '') return dflt
    const n = Number(v)
    if (!(n > 0)) throw new Error(`${name} must be a positive number, got ${JSON.stringify(v)}`)
    return n
  }
  return {
    rounds: Math.round(num('BENCH_ROUNDS', 3)),
    seconds: num('BENCH_SECONDS', 1.5),
    warmupSeconds: num('BENCH_WARMUP', 0.5),
    only: process.env.BENCH_ONLY || '',
  }
}

function exposeGc() {
  if (typeof global.gc === 'function') return
  require('v8').setFlagsFromString('--expose-gc')
  global.gc = require('vm').runInNewContext('gc')
}

function cases(only) {
  const all = CASE_FILES.flatMap((f) => [].concat(require(`./cases/${f}`)))
  return all.filter((c) => c.name.toLowerCase().includes(only.toLowerCase()))
}

/** Times every implementation of a throughput case, `rounds` times, interleaved. */
async function runThroughput(c, ctx) {
  const impls = await c.setup(ctx)
  const raw = new Map(impls.map((impl) => [impl, []]))
  const opts = { concurrency: c.concurrency, seconds: ctx.seconds, warmupSeconds: ctx.warmupSeconds }
  for (const impl of impls) if (impl.skipped) log(`  ${impl.name}: skipped: ${impl.skipped}${impl.detail ? ` (${impl.detail})` : ''}`)
  for (let r = 0; r < ctx.rounds; r++) {
    for (const impl of rotate(impls, r)) {
      if (impl.skipped || impl.error) continue
      try {
        const m = await measure(impl.op, opts)
        raw.get(impl).push(m)
        log(`  round ${r + 1}/${ctx.rounds}  ${impl.name}: ${Math.round(m.opsPerSec).toLocaleString('en-US')} ops/s`)
      } catch (err) {
        impl.error = err.message
        log(`  round ${r + 1}/${ctx.rounds}  ${impl.name}: error: ${err.message}`)
      }
    }
  }
  const summary = (impl) => {
    const runs = raw.get(impl)
    const m = (key) => median(runs.map((x) => x[key]))
    return { opsPerSec: m('opsPerSec'), cpuUsPerOp: m('cpuUsPerOp'), p50Us: m('p50Us'), p99Us: m('p99Us') }
  }
  const subject = impls.find((i) => i.role === 'subject')
  const s = subject && !subject.skipped && !subject.error ? summary(subject) : null
  const rows = impls.map((impl) => {
    const values = summary(impl)
    const status = impl.skipped ? `skipped: ${impl.skipped}` : impl.error ? `error: ${impl.error}` : undefined
    let advantage
    if (impl.role === 'peer' && s !== null && !status) {
      advantage = s.opsPerSec / values.opsPerSec
      values.ratio = advantage
      values.p99Ratio = s.p99Us / values.p99Us
    }
    return { name: impl.name, role: impl.role, status, values, advantage, rounds: raw.get(impl) }
  })
  return {
    concurrency: c.concurrency,
    rounds: ctx.rounds,
    seconds: ctx.seconds,
    note: c.note,
    advantageLabel: 'ops/s',
    columns: [
      { key: 'opsPerSec', label: 'ops/s', format: 'int' },
      { key: 'cpuUsPerOp', label: 'CPU µs/op', format: 'us' },
      { key: 'p50Us', label: 'p50 µs', format: 'us' },
      { key: 'p99Us', label: 'p99 µs', format: 'us' },
      { key: 'ratio', label: 'ops/s: ferrocache ÷ peer', format: 'ratio' },
      { key: 'p99Ratio', label: 'p99: ferrocache ÷ peer', format: 'ratio' },
    ],
    rows,
  }
}

function failedCase(c, err, rounds) {
  return {
    name: c.name,
    rounds,
    advantageLabel: 'failed',
    columns: [{ key: 'error', label: 'error', format: 'text' }],
    rows: [{ name: 'ferrocache', role: 'subject', status: `error: ${err.message}`, values: {} }],
  }
}

function git(args) {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return ''
  }
}

function versionOf(pkg) {
  return JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version
}

async function main() {
  const started = performance.now()
  const cfg = settings()
  const selected = cases(cfg.only)
  if (selected.length === 0) throw new Error(`BENCH_ONLY=${JSON.stringify(cfg.only)} matches no case`)
  exposeGc()
  const build = ensureReleaseBuild(log)
  if (build.profile !== 'release') log(`WARNING: measuring a ${build.profile} build; the numbers do not represent ferrocache`)
  pinAddon(build)

  const server = await startServer()
  let stopping = null
  const stop = () => (stopping = stopping || server.stop())
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      log(`\n${sig}: stopping redis-server (pid ${server.pid})`)
      stop().finally(() => process.exit(130))
    })
  }
  log(`redis-server ${server.version} pid ${server.pid} on ${server.url}`)

  const { clientPool } = require('./clients')
  const Redis = require('ioredis')
  const control = new Redis(server.url)
  const results = []
  const load = { start: os.loadavg()[0], max: os.loadavg()[0], end: 0 }
  try {
    for (const c of selected) {
      log(`\n${c.name}`)
      const pool = clientPool(server.url)
      const ctx = { url: server.url, pool, control, log, ...cfg }
      try {
        const result = c.kind === 'table' ? await c.run(ctx) : await runThroughput(c, ctx)
        results.push({ name: c.name, ...result })
      } catch (err) {
        // One broken case (say, a feature being rewritten) must not lose the others.
        log(`  failed: ${err.stack || err}`)
        results.push(failedCase(c, err, cfg.rounds))
      } finally {
        await pool.closeAll()
        await control.flushall()
      }
      load.max = Math.max(load.max, os.loadavg()[0])
      log(`\n${textTable(results[results.length - 1])}`)
    }
  } finally {
    await control.quit().catch(() => undefined)
    await stop()
  }

  load.end = os.loadavg()[0]
  const cpus = os.cpus()
  const meta = {
    date: new Date().toISOString(),
    cpu: cpus[0] ? cpus[0].model.trim() : 'unknown',
    cores: cpus.length,
    node: process.version,
    redis: server.version,
    load,
    build,
    commit: `${git(['rev-parse', '--short', 'HEAD']) || 'unknown'}${git(['status', '--porcelain', 'src', 'lib']) ? ' + uncommitted changes' : ''}`,
    peers: {
      ioredis: versionOf('ioredis'),
      'node-redis (redis)': versionOf('redis'),
      'lru-cache': versionOf('lru-cache'),
      'rate-limiter-flexible': versionOf('rate-limiter-flexible'),
    },
    settings: { rounds: cfg.rounds, seconds: cfg.seconds, warmupSeconds: cfg.warmupSeconds, only: cfg.only || null },
    durationSeconds: (performance.now() - started) / 1000,
  }
  // A partial run (BENCH_ONLY) does not replace the full results the README shows.
  const files = writeResults(results, meta, path.join(__dirname, 'results'), cfg.only ? 'partial' : 'latest')
  log(`\nwrote ${files.map((f) => path.relative(ROOT, f)).join(', ')} (${meta.durationSeconds.toFixed(0)} s)`)
}

main().catch((err) => {
  console.error(`bench failed: ${err.stack || err}`)
  process.exitCode = 1
})
