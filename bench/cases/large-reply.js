'use strict'
// Large replies through the escape hatch, awaited one by one: an LRANGE of
// 100,000 elements and an HGETALL of 10,000 fields. What is measured is the
// reply's way in: read, parsed (resumably, across many socket reads) and
// converted to JS arrays of strings.

const LIST_KEY = 'bench:large:list'
const HASH_KEY = 'bench:large:hash'
const LIST_LENGTH = 100_000
const HASH_FIELDS = 10_000
/** Elements written per command while filling the list and the hash. */
const FILL_BATCH = 10_000

/** `count` items `<prefix>:<n>` (n zero-padded to 6 digits): 10 to 12 bytes each. */
function items(prefix, from, count) {
  return Array.from({ length: count }, (_, i) => `${prefix}:${String(from + i).padStart(6, '0')}`)
}

async function fill(control) {
  await control.del(LIST_KEY, HASH_KEY)
  for (let from = 0; from < LIST_LENGTH; from += FILL_BATCH) {
    await control.rpush(LIST_KEY, ...items('item', from, FILL_BATCH))
  }
  for (let from = 0; from < HASH_FIELDS; from += FILL_BATCH) {
    const fields = items('field', from, FILL_BATCH)
    const values = items('value', from, FILL_BATCH)
    await control.hset(HASH_KEY, ...fields.flatMap((f, i) => [f, values[i]]))
  }
}

/** Fails the case if an implementation does not get the whole reply. */
function checked(op, length) {
  return async () => {
    const reply = await op()
    const n = Array.isArray(reply) ? reply.length : Object.keys(reply).length * 2
    if (n !== length) throw new Error(`expected ${length} items, got ${n}`)
  }
}

function largeCase(name, note, ferroArgs, ioOp, length) {
  return {
    name,
    concurrency: 1,
    note,
    async setup({ pool, control }) {
      await fill(control)
      const f = await pool.ferrocache()
      const io = await pool.ioredis()
      return [
        { name: 'ferrocache client.command', role: 'subject', op: checked(() => f.command(ferroArgs), length) },
        { name: 'ioredis', role: 'peer', op: checked(() => ioOp(io), length) },
      ]
    },
  }
}

module.exports = [
  largeCase(
    'Large reply: LRANGE 100,000 elements, sequential',
    'ferrocache `client.command(["LRANGE", k, "0", "-1"])`; ioredis `lrange(k, 0, -1)`. Elements of 11 bytes: about 1.7 MB on the wire.',
    ['LRANGE', LIST_KEY, '0', '-1'],
    (io) => io.lrange(LIST_KEY, 0, -1),
    LIST_LENGTH,
  ),
  largeCase(
    'Large reply: HGETALL 10,000 fields, sequential',
    'ferrocache `client.command(["HGETALL", k])` (a flat array); ioredis `hgetall(k)` (an object: its own conversion included).',
    ['HGETALL', HASH_KEY],
    (io) => io.hgetall(HASH_KEY),
    2 * HASH_FIELDS,
  ),
]
