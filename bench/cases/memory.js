'use strict'
// L1 memory for 100k entries of 1 KB: each cache is filled in a child process
// of its own (node --expose-gc), which reports its growth.

const { execFile } = require('node:child_process')
const path = require('node:path')
const { median, rotate } = require('../measure')

const ENTRIES = 100000
const MB = 1024 * 1024

function child(impl, url) {
  const script = path.join(__dirname, '..', 'memory-child.js')
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--expose-gc', script, impl, url, String(ENTRIES)], { timeout: 120000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`memory child ${impl} failed: ${stderr || err.message}`))
      else resolve(JSON.parse(stdout))
    })
  })
}

module.exports = {
  name: 'L1 memory for 100k entries of 1 KB',
  kind: 'table',
  async run({ url, control, log }) {
    // One round: a fill takes ~10-30 s here and the growth varies by a few % between runs.
    const rounds = 1
    const impls = [
      { name: 'ferrocache L1 (cache.set)', role: 'subject', impl: 'ferrocache' },
      { name: 'lru-cache (parsed objects)', role: 'peer', impl: 'lru-cache' },
    ]
    const raw = new Map(impls.map((i) => [i, []]))
    for (let r = 0; r < rounds; r++) {
      for (const impl of rotate(impls, r)) {
        const m = await child(impl.impl, url)
        raw.get(impl).push(m)
        const mb = (bytes) => (bytes / MB).toFixed(1)
        log(`  round ${r + 1}/${rounds}  ${impl.name}: RSS +${mb(m.rssBytes)} MB, heap +${mb(m.heapBytes)} MB, ${m.entries} entries`)
        await control.flushall()
      }
    }
    const medianOf = (impl, key) => median(raw.get(impl).map((m) => m[key]))
    const subjectRss = medianOf(impls[0], 'rssBytes')
    const rows = impls.map((impl) => {
      const payload = raw.get(impl)[0].payloadBytes
      const rss = medianOf(impl, 'rssBytes')
      const heap = medianOf(impl, 'heapBytes')
      const values = {
        entries: medianOf(impl, 'entries'),
        rssMB: rss / MB,
        heapMB: heap / MB,
        externalMB: medianOf(impl, 'externalBytes') / MB,
        rssPerPayload: rss / payload,
        heapPerPayload: heap / payload,
      }
      const advantage = impl.role === 'peer' ? rss / subjectRss : undefined
      if (advantage !== undefined) values.ratio = advantage
      return { name: impl.name, role: impl.role, values, advantage, rounds: raw.get(impl) }
    })
    return {
      rounds,
      advantageLabel: 'RSS growth, peer ÷ ferrocache',
      note:
        `1 round. ${ENTRIES} distinct objects whose JSON is 1024 bytes (payload ${((ENTRIES * 1024) / MB).toFixed(1)} MB), ` +
        'growth from the moment the cache was built (maxEntries 200,000 for both; ferrocache also writes each entry to Redis). ' +
        '"× payload" = growth ÷ payload bytes. ratio = RSS growth of the peer ÷ ferrocache (above 1: ferrocache uses less).',
      columns: [
        { key: 'entries', label: 'entries', format: 'int' },
        { key: 'rssMB', label: 'RSS MB', format: 'fixed1' },
        { key: 'heapMB', label: 'heap MB', format: 'fixed1' },
        { key: 'externalMB', label: 'external MB', format: 'fixed1' },
        { key: 'rssPerPayload', label: 'RSS × payload', format: 'fixed2' },
        { key: 'heapPerPayload', label: 'heap × payload', format: 'fixed2' },
        { key: 'ratio', label: 'peer ÷ ferrocache (RSS)', format: 'ratio' },
      ],
      rows,
    }
  },
}
