'use strict'
// What `client.command()` may send on the connection every caller shares, and where. The main
// connection is pipelined: each command's reply is matched to its caller by order alone, so a
// command that changes the connection's state (its mode, database, user or transaction) would
// change it for every other caller, and one that blocks would hold every other caller's reply
// behind it. The first kind is refused, naming what to use instead; the second runs on a
// connection of its own.

const { invalid } = require('./errors')

const ATOMIC = 'use mset(), incr(key, by, { ttl }) or a Lua script (EVAL) for an atomic change'
const PUBSUB = 'pub/sub needs a connection of its own: use a dedicated subscriber connection (a pub/sub API is planned)'
const OPTIONS = 'set it with the client options (url, username/password, db in the URL path) instead'
const STATE = 'it would change the state of the connection every caller of this client shares'

/** Connection-state commands, with what to use instead. */
const REFUSED = new Map([
  ['SUBSCRIBE', PUBSUB],
  ['PSUBSCRIBE', PUBSUB],
  ['SSUBSCRIBE', PUBSUB],
  ['UNSUBSCRIBE', PUBSUB],
  ['PUNSUBSCRIBE', PUBSUB],
  ['SUNSUBSCRIBE', PUBSUB],
  ['MULTI', ATOMIC],
  ['EXEC', ATOMIC],
  ['DISCARD', ATOMIC],
  ['WATCH', ATOMIC],
  ['UNWATCH', ATOMIC],
  ['SELECT', `the database is chosen once per client: ${OPTIONS}`],
  ['HELLO', `the protocol and credentials are the client's: ${OPTIONS}`],
  ['AUTH', `the credentials are the client's: ${OPTIONS}`],
  ['MONITOR', `${STATE}; run MONITOR from redis-cli`],
  ['RESET', `${STATE}; close() ends the client`],
  ['QUIT', `${STATE}; close() ends the client`],
  ['SYNC', `${STATE} into a replication stream`],
  ['PSYNC', `${STATE} into a replication stream`],
  ['READONLY', `${STATE}`],
  ['READWRITE', `${STATE}`],
])

/** CLIENT subcommands that change the connection's state. */
const CLIENT_REFUSED = new Map([
  ['REPLY', `${STATE}: replies would stop matching their callers`],
  ['TRACKING', `${STATE}; L1 tracking is the local.coherence option`],
])

/** How long (ms) a blocking command may hold its connection, from its own timeout argument. */
const seconds = (arg) => Number(arg) * 1000
const millis = (arg) => Number(arg)
const BLOCKING = new Map([
  ['BLPOP', (a) => seconds(a[a.length - 1])],
  ['BRPOP', (a) => seconds(a[a.length - 1])],
  ['BZPOPMIN', (a) => seconds(a[a.length - 1])],
  ['BZPOPMAX', (a) => seconds(a[a.length - 1])],
  ['BLMOVE', (a) => seconds(a[a.length - 1])],
  ['BRPOPLPUSH', (a) => seconds(a[a.length - 1])],
  ['BLMPOP', (a) => seconds(a[1])],
  ['BZMPOP', (a) => seconds(a[1])],
  ['WAIT', (a) => millis(a[2])],
  ['WAITAOF', (a) => millis(a[3])],
  ['XREAD', streamBlock],
  ['XREADGROUP', streamBlock],
])

/** XREAD / XREADGROUP block only with a BLOCK option (before STREAMS). */
function streamBlock(args) {
  for (let i = 1; i < args.length - 1; i++) {
    const word = upper(args[i])
    if (word === 'STREAMS') return undefined
    if (word === 'BLOCK') return millis(args[i + 1])
  }
  return undefined
}

/** Commands that change every key of the database: `command()` empties the L1 for them. */
const FLUSHES = new Set(['FLUSHDB', 'FLUSHALL', 'SWAPDB'])

/** Commands that change no key: `command()` fences the L1 for every other one. */
const READ_ONLY = new Set(
  (
    'GET MGET GETRANGE STRLEN EXISTS TYPE TTL PTTL EXPIRETIME PEXPIRETIME DUMP OBJECT MEMORY ' +
    'HGET HMGET HGETALL HKEYS HVALS HLEN HEXISTS HSTRLEN HRANDFIELD HSCAN ' +
    'LRANGE LLEN LINDEX LPOS SMEMBERS SISMEMBER SMISMEMBER SCARD SRANDMEMBER SSCAN SINTER SUNION SDIFF SINTERCARD ' +
    'ZRANGE ZRANGEBYSCORE ZRANGEBYLEX ZREVRANGE ZREVRANGEBYSCORE ZREVRANGEBYLEX ZSCORE ZMSCORE ZCARD ZCOUNT ZLEXCOUNT ZRANK ZREVRANK ZSCAN ZRANDMEMBER ' +
    'XRANGE XREVRANGE XLEN XINFO XPENDING XREAD GETBIT BITCOUNT BITPOS PFCOUNT GEOPOS GEODIST GEOHASH GEOSEARCH ' +
    'SCAN RANDOMKEY DBSIZE INFO PING ECHO TIME LASTSAVE ROLE COMMAND CLIENT CONFIG SLOWLOG LATENCY SCRIPT FUNCTION ' +
    'EVALSHA_RO EVAL_RO FCALL_RO SORT_RO'
  ).split(' '),
)

function upper(arg) {
  return (typeof arg === 'string' ? arg : arg.toString('latin1')).toUpperCase()
}

/**
 * How `command()` runs `args`: throws ERR_INVALID_ARGUMENT for a connection-state command;
 * `{ blockMs }` for a blocking one (NaN when its timeout cannot be read: the server answers the
 * error), `{ write }` for the rest, `write` telling whether it may change keys, `flush` whether
 * it changes them all.
 */
function classify(args) {
  const name = upper(args[0])
  const refused = REFUSED.get(name) || (name === 'CLIENT' && args.length > 1 && CLIENT_REFUSED.get(upper(args[1])))
  if (refused) {
    const what = name === 'CLIENT' ? `CLIENT ${upper(args[1])}` : name
    throw invalid(`command() refuses ${what}: ${refused}`)
  }
  const block = BLOCKING.get(name)
  const blockMs = block === undefined ? undefined : block(args)
  if (blockMs !== undefined) return { blockMs, write: name !== 'XREAD' && name !== 'WAIT' && name !== 'WAITAOF', flush: false }
  return { blockMs: undefined, write: !READ_ONLY.has(name), flush: FLUSHES.has(name) }
}

module.exports = { classify }
