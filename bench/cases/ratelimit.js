'use strict'
// Rate limiter consume, 64 in flight: ferrocache's fixed window against
// rate-limiter-flexible's RateLimiterRedis on ioredis (also a fixed window),
// once with ids that are always admitted, once with an id already denied
// (rate-limiter-flexible answers it from its in-memory block list).

const { RateLimiterRedis } = require('rate-limiter-flexible')

const IDS = Array.from({ length: 1024 }, (_, i) => `user-${i}`)
const HUGE = 1e9

function cycle(fn) {
  let n = 0
  return () => fn(IDS[n++ & 1023])
}

/** The ferrocache limiter, or a skipped row while `client.rateLimiter` throws. */
function ferroLimiter(f, name, opts, makeOp) {
  let limiter
  try {
    limiter = f.rateLimiter({ name, algorithm: 'fixed-window', ...opts })
  } catch (err) {
    return { name: 'ferrocache rateLimiter', role: 'subject', skipped: 'not implemented', detail: err.message }
  }
  return { name: 'ferrocache rateLimiter', role: 'subject', op: makeOp(limiter), limiter }
}

const admitted = {
  name: 'rate limiter consume, 64 in flight',
  concurrency: 64,
  note: `Fixed window of 60 s, limit ${HUGE} (never reached), 1024 ids in turn.`,
  async setup({ pool }) {
    const f = await pool.ferrocache()
    const io = await pool.ioredis()
    const rlf = new RateLimiterRedis({ storeClient: io, keyPrefix: 'bench-rlf', points: HUGE, duration: 60 })
    return [
      ferroLimiter(f, 'bench', { limit: HUGE, window: 60 }, (rl) => cycle((id) => rl.consume(id))),
      { name: 'rate-limiter-flexible (ioredis)', role: 'peer', op: cycle((id) => rlf.consume(id)) },
    ]
  },
}

const denied = {
  name: 'rate limiter, denied id, 64 in flight',
  concurrency: 64,
  note:
    'One id over its limit (limit 1, window 1 h). rate-limiter-flexible with `inMemoryBlockOnConsumed: 1` ' +
    'answers it from its local block list; ferrocache answers however it is built to.',
  async setup({ pool }) {
    const f = await pool.ferrocache()
    const io = await pool.ioredis()
    const rlf = new RateLimiterRedis({
      storeClient: io,
      keyPrefix: 'bench-rlf-denied',
      points: 1,
      duration: 3600,
      inMemoryBlockOnConsumed: 1,
    })
    await rlf.consume('blocked')
    const denyCheck = await rlf.consume('blocked').then(() => 'admitted', () => 'denied')
    if (denyCheck !== 'denied') throw new Error('rate-limiter-flexible admitted an id over its limit')
    const ferro = ferroLimiter(f, 'bench-denied', { limit: 1, window: 3600 }, (rl) => () => rl.consume('blocked'))
    if (ferro.limiter) {
      await ferro.limiter.consume('blocked')
      if ((await ferro.limiter.consume('blocked')).allowed) throw new Error('ferrocache admitted an id over its limit')
    }
    const rejected = () => undefined // a denial rejects with a RateLimiterRes: the expected answer
    return [ferro, { name: 'rate-limiter-flexible (in-memory block)', role: 'peer', op: () => rlf.consume('blocked').catch(rejected) }]
  },
}

module.exports = [admitted, denied]
