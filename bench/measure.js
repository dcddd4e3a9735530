'use strict'
// The driver (N ops outstanding; 1 is sequential: await each op)
// and the statistics of one time-bounded measurement.

const { performance } = require('node:perf_hooks')

/** A growable array of latency samples (ms). */
class Samples {
  constructor(capacity = 1 << 16) {
    this.buf = new Float64Array(capacity)
    this.n = 0
  }

  push(x) {
    if (this.n === this.buf.length) {
      const bigger = new Float64Array(this.buf.length * 2)
      bigger.set(this.buf)
      this.buf = bigger
    }
    this.buf[this.n++] = x
  }

  /** The q-quantile in µs. */
  quantilesUs(qs) {
    const sorted = this.buf.subarray(0, this.n).sort()
    return qs.map((q) => (this.n === 0 ? NaN : sorted[Math.min(this.n - 1, Math.floor(q * this.n))] * 1000))
  }
}

// One clock read per op: the end of one op is the start of the next one (of
// the same worker), so timing costs ~40 ns per op, not two reads.

/**
 * Keeps `concurrency` ops outstanding until `endMs` (1: sequential, each op awaited before the
 * next); each sample is one op's latency. Returns the op count.
 */
async function inFlight(op, endMs, samples, concurrency) {
  let ops = 0
  const worker = async () => {
    let prev = performance.now()
    while (prev < endMs) {
      await op()
      const t = performance.now()
      samples.push(t - prev)
      prev = t
      ops++
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return ops
}

const gc = () => {
  if (typeof global.gc === 'function') global.gc()
}

/**
 * Warm-up, then one measurement of `op` for `seconds`.
 * Returns { ops, seconds, opsPerSec, cpuUsPerOp, p50Us, p99Us }; CPU is this
 * process's (user + system, every thread), so it includes a native client's threads.
 */
async function measure(op, { concurrency, seconds, warmupSeconds }) {
  const drive = (endMs, samples) => inFlight(op, endMs, samples, Math.max(1, concurrency))
  const warmOps = await drive(performance.now() + warmupSeconds * 1000, new Samples())
  // Room for every sample up front: growing the buffer mid-measurement would pause the loop.
  const samples = new Samples(Math.ceil(((warmOps * seconds) / warmupSeconds) * 1.5) + 1024)
  gc()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const ops = await drive(t0 + seconds * 1000, samples)
  const elapsed = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  const [p50Us, p99Us] = samples.quantilesUs([0.5, 0.99])
  return { ops, seconds: elapsed, opsPerSec: ops / elapsed, cpuUsPerOp: (cpu.user + cpu.system) / ops, p50Us, p99Us }
}

function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const mid = s.length >> 1
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

/** `list` rotated left by `r`: round r starts with a different implementation. */
function rotate(list, r) {
  const k = r % list.length
  return [...list.slice(k), ...list.slice(0, k)]
}

module.exports = { measure, median, rotate, gc }
