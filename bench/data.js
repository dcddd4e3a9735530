'use strict'
// The values every implementation reads and writes: same keys, same bytes.

/** Pads `base` (an object) with a `pad` string so its JSON is exactly `bytes` long. */
function padTo(base, bytes) {
  const obj = { ...base, pad: '' }
  const missing = bytes - JSON.stringify(obj).length
  if (missing < 0) throw new Error(`the base object is over ${bytes} bytes`)
  obj.pad = 'x'.repeat(missing)
  return obj
}

/** A 100-byte JSON text (what `client.get` parses; the peers return it as is). */
const VALUE_100 = JSON.stringify(padTo({ id: 1, name: 'espresso', price: 2.5 }, 100))

/** A distinct 1 KB object (its JSON is exactly 1024 bytes): a typical API record. */
function object1k(i) {
  return padTo(
    {
      id: i,
      slug: `dish-${i}`,
      name: 'Grilled halloumi with lemon and thyme',
      price: 12.5,
      currency: 'EUR',
      available: true,
      tags: ['vegetarian', 'gluten-free', 'starter'],
      allergens: { milk: true, nuts: false, gluten: false },
      description: 'Halloumi from Cyprus, grilled over charcoal, served with a lemon and thyme dressing.',
      updatedAt: '2024-05-01T12:00:00.000Z',
    },
    1024,
  )
}

module.exports = { VALUE_100, object1k }
