#!/usr/bin/env node
// The layer rules of ARCHITECTURE.md, checked over the source: every `crate::` path of the Rust
// code outside its tests, and every relative `require` of the framework adapters in lib/. Prints
// each import that runs against the rules and exits 1 when there is one.
'use strict'

const fs = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..')

/** The layer of a Rust source file (path relative to src/). */
function layerOf(file) {
  const [top] = file.split('/')
  if (top === 'lib.rs') return 'root'
  const name = top.replace(/\.rs$/, '')
  return LAYERS[name] === undefined ? `unknown:${name}` : name
}

/**
 * What each layer may not import. Leaves (the RESP protocol, config, the connection targets and
 * their redaction, errors, globs, metrics, the INFO summary, the clock) import only other leaves.
 */
const LEAVES = ['resp', 'config', 'target', 'redact', 'error', 'glob', 'metrics', 'info', 'clock']
const ABOVE_LEAVES = ['napi', 'client', 'bridge', 'cache', 'features', 'backend']
const LAYERS = {
  napi: [],
  client: ['napi'],
  bridge: ['napi', 'client', 'cache', 'features'],
  cache: ['napi', 'client', 'features'],
  features: ['napi', 'client', 'bridge', 'cache'],
  backend: ['napi', 'client', 'bridge', 'cache', 'features', 'config'],
  ...Object.fromEntries(LEAVES.map((leaf) => [leaf, ABOVE_LEAVES])),
}
/** Imported only by the modules named here (nothing imports napi, whatever the table says). */
const NOBODY_IMPORTS = ['napi']

function rustFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) return rustFiles(p)
    return e.name.endsWith('.rs') ? [p] : []
  })
}

/**
 * The source without its test code: test-only files, and each `#[cfg(test)]` item (a `mod` with
 * its braced body, or a one-line item such as `use` or `mod x;`).
 */
function productionCode(file, text) {
  if (/(^|\/)(tests|props)\.rs$/.test(file)) return ''
  let out = ''
  let at = 0
  for (;;) {
    const found = text.indexOf('#[cfg(test)]', at)
    if (found < 0) return out + text.slice(at)
    out += text.slice(at, found)
    let i = found + '#[cfg(test)]'.length
    const semicolon = text.indexOf(';', i)
    const brace = text.indexOf('{', i)
    if (brace < 0 || (semicolon >= 0 && semicolon < brace)) {
      at = semicolon < 0 ? text.length : semicolon + 1
      continue
    }
    let depth = 0
    for (i = brace; i < text.length; i++) {
      if (text[i] === '{') depth++
      else if (text[i] === '}' && --depth === 0) break
    }
    at = i + 1
  }
}

/** The top-level modules a file names through `crate::` (in `use` lines and in paths). */
function cratePaths(text) {
  const found = new Set()
  const code = text.replace(/\/\/.*$/gm, '')
  for (const m of code.matchAll(/crate::(\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)/g)) {
    if (m[1].startsWith('{')) {
      for (const part of m[1].slice(1, -1).split(',')) {
        const head = part.trim().split('::')[0]
        if (head) found.add(head)
      }
    } else found.add(m[1])
  }
  return found
}

function checkRust() {
  const src = path.join(root, 'src')
  const problems = []
  for (const full of rustFiles(src)) {
    const file = path.relative(src, full).split(path.sep).join('/')
    const from = layerOf(file)
    if (from === 'root') continue
    if (from.startsWith('unknown:')) {
      problems.push(`${file}: is in no layer (add it to scripts/check-layers.js and ARCHITECTURE.md)`)
      continue
    }
    for (const target of cratePaths(productionCode(file, fs.readFileSync(full, 'utf8')))) {
      const to = LAYERS[target] === undefined ? null : target
      if (to === null || to === from) continue
      if (NOBODY_IMPORTS.includes(to) || LAYERS[from].includes(to)) problems.push(`${file} (${from}) imports ${to}`)
    }
  }
  return problems
}

/** The framework adapters use the public entry, the shared HTTP helpers and the two leaf modules. */
const ADAPTERS = ['express', 'nestjs', 'http']
const ADAPTER_MAY_REQUIRE = ['index.js', 'lib/errors.js', 'lib/values.js', ...ADAPTERS.map((a) => `lib/${a}/`)]

function checkJs() {
  const problems = []
  for (const adapter of ADAPTERS) {
    const dir = path.join(root, 'lib', adapter)
    for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.js'))) {
      const file = path.join(dir, name)
      const text = fs.readFileSync(file, 'utf8')
      for (const m of text.matchAll(/require\((['"])(\.[^'"]*)\1\)/g)) {
        const target = path.relative(root, require.resolve(path.resolve(dir, m[2]))).split(path.sep).join('/')
        if (!ADAPTER_MAY_REQUIRE.some((ok) => (ok.endsWith('/') ? target.startsWith(ok) : target === ok))) {
          problems.push(`lib/${adapter}/${name} requires ${target}: an adapter uses only the public entry (index.js)`)
        }
      }
    }
  }
  return problems
}

const problems = [...checkRust(), ...checkJs()]
for (const p of problems) console.log(`layers: ${p}`)
console.log(problems.length === 0 ? 'layers: every import runs downward' : `layers: ${problems.length} import(s) against the rules`)
process.exit(problems.length === 0 ? 0 : 1)
