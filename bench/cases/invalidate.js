'use strict'
// Pattern invalidation over 100k keys (plus 1k unrelated keys that must
// survive): ferrocache's cache.invalidate against the SCAN MATCH + UNLINK loop
// apps hand-write on ioredis. One timed call per implementation and round.

const { performance } = require('node:perf_hooks')
const { VALUE_100 } = require('../data')
const { median, rotate } = require('../measure')

const MATCHING = 100000
const UNRELATED = 1000

/** Writes inv:0..99999 and keep:0..999 in pipelines of 10k. */
async function fill(control) {
  const keys = [
    ...Array.from({ length: MATCHING }, (_, i) => `inv:${i}`),
    ...Array.from({ length: UNRELATED }, (_, i) => `keep:${i}`),
  ]
  for (let i = 0; i < keys.length; i += 10000) {
    const p = control.pipeline()
    for (const k of keys.slice(i, i + 10000)) p.set(k, VALUE_100)
    await p.exec()
  }
}

async function scanUnlink(io, pattern) {
  let cursor = '0'
  let deleted = 0
  do {
    const [next, keys] = await io.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    if (keys.length > 0) deleted += await io.unlink(...keys)
    cursor = next
  } while (cursor !== '0')
  return deleted
}

/** Whether only the unrelated keys are left. */
async function onlyUnrelatedLeft(control) {
  const size = await control.dbsize()
  const kept = await control.exists(...Array.from({ length: UNRELATED }, (_, i) => `keep:${i}`))
  return size === UNRELATED && kept === UNRELATED
}

module.exports = {
  name: 'invalidate over 100k keys',
  kind: 'table',
  async run({ pool, control, rounds, log }) {
    const f = await pool.ferrocache()
    const io = await pool.ioredis()
    const impls = [
      { name: "ferrocache cache.invalidate('inv:*')", role: 'subject', run: () => f.cache.invalidate('inv:*') },
      { name: 'ioredis SCAN COUNT 1000 + UNLINK loop', role: 'peer', run: () => scanUnlink(io, 'inv:*') },
    ]
    const raw = new Map(impls.map((impl) => [impl, []]))
    for (let r = 0; r < rounds; r++) {
      for (const impl of rotate(impls, r)) {
        await control.flushall()
        await fill(control)
        const cpu0 = process.cpuUsage()
        const t0 = performance.now()
        const deleted = await impl.run()
        const seconds = (performance.now() - t0) / 1000
        const cpu = process.cpuUsage(cpu0)
        const ok = deleted === MATCHING && (await onlyUnrelatedLeft(control))
        raw.get(impl).push({ seconds, keysPerSec: MATCHING / seconds, cpuMs: (cpu.user + cpu.system) / 1000, deleted, ok })
        log(`  round ${r + 1}/${rounds}  ${impl.name}: ${seconds.toFixed(3)} s, ${deleted} deleted${ok ? '' : ', CHECK FAILED'}`)
      }
    }
    await control.flushall()
    const subject = median(raw.get(impls[0]).map((x) => x.seconds))
    const rows = impls.map((impl) => {
      const runs = raw.get(impl)
      const seconds = median(runs.map((x) => x.seconds))
      const values = {
        seconds,
        keysPerSec: MATCHING / seconds,
        cpuMs: median(runs.map((x) => x.cpuMs)),
        check: runs.every((x) => x.ok) ? 'ok' : 'FAILED',
      }
      const advantage = impl.role === 'peer' ? seconds / subject : undefined
      if (advantage !== undefined) values.ratio = advantage
      return { name: impl.name, role: impl.role, values, advantage, rounds: runs }
    })
    return {
      rounds,
      advantageLabel: 'keys/s',
      note:
        `${MATCHING} matching keys + ${UNRELATED} unrelated ones (which must survive: "check"), refilled before every timed call; ` +
        'client CPU only (the redis-server does most of the work). ratio = keys/s of ferrocache ÷ the peer.',
      columns: [
        { key: 'seconds', label: 'seconds', format: 'fixed3' },
        { key: 'keysPerSec', label: 'keys/s', format: 'int' },
        { key: 'cpuMs', label: 'client CPU ms', format: 'fixed1' },
        { key: 'check', label: 'check', format: 'text' },
        { key: 'ratio', label: 'ferrocache ÷ peer', format: 'ratio' },
      ],
      rows,
    }
  },
}
