'use strict'
// Output of a run: a text table per case on stdout, and bench/results/<name>.md
// (Markdown tables and the machine), .svg (a bar chart of ferrocache's ratio to
// each peer, log scale, a line at 1×) and .json (every raw measurement).

const fs = require('node:fs')
const path = require('node:path')

const FORMATS = {
  int: (x) => Math.round(x).toLocaleString('en-US'),
  fixed1: (x) => x.toFixed(1),
  fixed2: (x) => x.toFixed(2),
  fixed3: (x) => x.toFixed(3),
  us: (x) => x.toFixed(x < 10 ? 2 : x < 100 ? 1 : 0),
  ratio: (x) => `${x >= 10 ? x.toFixed(1) : x >= 0.1 ? x.toFixed(2) : x.toPrecision(2)}×`,
  text: (x) => String(x),
}

function cell(value, format) {
  if (value === undefined || value === null || (typeof value === 'number' && !Number.isFinite(value))) return '—'
  return FORMATS[format](value)
}

/** The table of one case: header and rows of strings. */
function tableOf(result) {
  const header = ['implementation', ...result.columns.map((c) => c.label)]
  const rows = result.rows.map((row) => {
    const name = row.role === 'reference' ? `${row.name} (reference)` : row.name
    if (row.status) return [name, row.status, ...result.columns.slice(1).map(() => '')]
    return [name, ...result.columns.map((c) => cell(row.values[c.key], c.format))]
  })
  return { header, rows }
}

function subtitle(result) {
  const how = result.concurrency === undefined ? '' : result.concurrency > 1 ? `${result.concurrency} in flight, ` : 'sequential, '
  const secs = result.seconds === undefined ? '' : ` × ${result.seconds} s`
  return `${how}${result.rounds} round${result.rounds === 1 ? '' : 's'}${secs}, medians`
}

function textTable(result) {
  const { header, rows } = tableOf(result)
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((r) => r[i].length)))
  const line = (r) => r.map((s, i) => (i === 0 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join('  ')
  return [`${result.name}  (${subtitle(result)})`, line(header), ...rows.map(line)].join('\n')
}

function markdownTable(result) {
  const { header, rows } = tableOf(result)
  const line = (r) => `| ${r.map((s) => s.replace(/\|/g, '\\|')).join(' | ')} |`
  const align = `|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`
  return [`### ${result.name}`, '', `${subtitle(result)}. ${result.note || ''}`.trim(), '', line(header), align, ...rows.map(line)].join('\n')
}

function loadLine({ load, cores }) {
  const busy = load.max > cores ? ' — other work competed for the cores: trust the ratios (interleaved) more than the absolute numbers' : ''
  const f = (x) => x.toFixed(1)
  return `- load average (1 min): ${f(load.start)} at the start, ${f(load.max)} at most between cases, ${f(load.end)} at the end${busy}`
}

function machineLines(meta) {
  return [
    `- date: ${meta.date}`,
    `- CPU: ${meta.cpu}, ${meta.cores} cores (the redis-server shares them with the client)`,
    `- Node ${meta.node}, redis-server ${meta.redis}`,
    loadLine(meta),
    `- ferrocache ${meta.commit}, ${meta.build.profile} build (${meta.build.file}, built ${meta.build.builtAt})`,
    `- peers: ${Object.entries(meta.peers).map(([n, v]) => `${n} ${v}`).join(', ')}`,
    `- settings: ${meta.settings.rounds} rounds, ${meta.settings.seconds} s per measurement after a ${meta.settings.warmupSeconds} s warm-up, ` +
      `implementations interleaved in a rotating order; whole run ${meta.durationSeconds.toFixed(0)} s`,
  ]
}

function markdown(results, meta) {
  return [
    '# ferrocache benchmarks',
    '',
    'Produced by `npm run bench` (bench/run.js); every implementation runs against the same throwaway redis-server, same keys and values.',
    '',
    ...machineLines(meta),
    '',
    'Columns: ops/s; CPU µs/op = this process\'s CPU time (user + system, all threads) ÷ ops, the client\'s cost only; ' +
      'p50/p99 = per-op latency in µs (for the in-flight cases, the time each op was outstanding). ' +
      '`ops/s: ferrocache ÷ peer` above 1 means ferrocache is faster; `p99: ferrocache ÷ peer` below 1 means ferrocache\'s tail is shorter.',
    '',
    ...results.flatMap((r) => [markdownTable(r), '']),
    '![ferrocache vs peers](latest.svg)',
    '',
  ].join('\n')
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** Horizontal bars of ferrocache's advantage over each peer (log2 scale, a line at 1×). */
function svg(results, meta) {
  const groups = results.map((r) => ({
    title: `${r.name} (${r.advantageLabel})`,
    bars: r.rows.filter((row) => row.role === 'peer').map((row) => ({ label: `vs ${row.name}`, value: row.advantage })),
    skipped: r.rows.find((row) => row.role === 'subject' && row.status)?.status,
  }))
  const values = groups.flatMap((g) => g.bars.map((b) => b.value)).filter((v) => Number.isFinite(v) && v > 0)
  const lo = Math.min(-2, Math.floor(Math.log2(Math.min(...values, 1))))
  const hi = Math.max(2, Math.ceil(Math.log2(Math.max(...values, 1))))
  const W = 960
  const left = 390
  const right = W - 70
  const x = (v) => left + ((Math.log2(v) - lo) / (hi - lo)) * (right - left)
  const out = []
  let y = 78
  for (const g of groups) {
    out.push(`<text x="12" y="${y + 15}" class="h">${esc(g.title)}</text>`)
    y += 24
    if (g.skipped) {
      out.push(`<text x="28" y="${y + 14}" class="skip">ferrocache ${esc(g.skipped)}</text>`)
      y += 22
      continue
    }
    for (const b of g.bars) {
      out.push(`<text x="28" y="${y + 14}">${esc(b.label)}</text>`)
      if (Number.isFinite(b.value) && b.value > 0) {
        const x0 = Math.min(x(1), x(b.value))
        const w = Math.max(1, Math.abs(x(b.value) - x(1)))
        const good = b.value >= 1
        out.push(`<rect x="${x0.toFixed(1)}" y="${y + 3}" width="${w.toFixed(1)}" height="14" class="${good ? 'up' : 'down'}"/>`)
        const tx = good ? x0 + w + 5 : x0 - 5
        out.push(`<text x="${tx.toFixed(1)}" y="${y + 14}" text-anchor="${good ? 'start' : 'end'}" class="v">${FORMATS.ratio(b.value)}</text>`)
      } else {
        out.push(`<text x="${x(1) + 5}" y="${y + 14}" class="skip">no result</text>`)
      }
      y += 22
    }
    y += 6
  }
  const bottom = y
  const grid = []
  for (let p = lo; p <= hi; p++) {
    const gx = x(2 ** p).toFixed(1)
    grid.push(`<line x1="${gx}" y1="64" x2="${gx}" y2="${bottom}" class="${p === 0 ? 'one' : 'grid'}"/>`)
    const label = p < 0 ? `1/${2 ** -p}×` : `${2 ** p}×`
    grid.push(`<text x="${gx}" y="${bottom + 16}" text-anchor="middle" class="tick">${label}</text>`)
  }
  const H = bottom + 60
  const foot = [
    `${meta.cpu}, ${meta.cores} cores`,
    `Node ${meta.node}`,
    `redis-server ${meta.redis}`,
    `ferrocache ${meta.commit}, ${meta.build.profile} build`,
    meta.date.slice(0, 10),
  ].join(' · ')
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="13">`,
    '<style>.h{font-weight:bold;font-size:14px}.v{font-size:12px}.tick{font-size:11px;fill:#555}.skip{fill:#888;font-style:italic}' +
      '.grid{stroke:#ddd}.one{stroke:#333;stroke-width:1.5}.up{fill:#2e7d32}.down{fill:#c62828}.foot{font-size:11px;fill:#555}</style>',
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="12" y="26" font-size="18" font-weight="bold">ferrocache vs peers: how many times better (log scale; right of 1× = ferrocache better)</text>`,
    `<text x="12" y="48" class="foot">ops/s ratio per case (invalidate: keys/s ratio; memory: peer RSS ÷ ferrocache RSS), medians of ${meta.settings.rounds} rounds</text>`,
    ...grid,
    ...out,
    `<text x="12" y="${H - 14}" class="foot">${esc(foot)}</text>`,
    '</svg>',
    '',
  ].join('\n')
}

/** Writes <dir>/<name>.md, .svg and .json; returns their paths. */
function writeResults(results, meta, dir, name) {
  fs.mkdirSync(dir, { recursive: true })
  const files = {
    md: path.join(dir, `${name}.md`),
    svg: path.join(dir, `${name}.svg`),
    json: path.join(dir, `${name}.json`),
  }
  fs.writeFileSync(files.md, markdown(results, meta).replace('latest.svg', `${name}.svg`))
  fs.writeFileSync(files.svg, svg(results, meta))
  fs.writeFileSync(files.json, JSON.stringify({ meta, results }, null, 2) + '\n')
  return Object.values(files)
}

module.exports = { textTable, writeResults }
