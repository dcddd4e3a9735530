#!/usr/bin/env node
// `node scripts/version.js 1.2.3`: sets the release version everywhere it is
// written — package.json, package-lock.json, npm/*/package.json, Cargo.toml,
// Cargo.lock and the version check in the generated binding.js — so that the
// tag, the main package and its platform packages agree (the release workflow
// refuses to publish when they do not).
'use strict'

const fs = require('node:fs')
const path = require('node:path')
const { root, targets } = require('./platforms')

const next = process.argv[2]
if (!next || !/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(next)) {
  console.error('usage: node scripts/version.js <major.minor.patch[-prerelease]>')
  process.exit(2)
}
const current = require(path.join(root, 'package.json')).version

/** Rewrites `file` (relative to the root) through `edit`; fails when nothing changed, so no place is silently missed. */
function rewrite(file, edit) {
  const abs = path.join(root, file)
  const before = fs.readFileSync(abs, 'utf8')
  const after = edit(before)
  if (after === before && current !== next) {
    console.error(`version: found no version ${current} to replace in ${file}`)
    process.exit(1)
  }
  fs.writeFileSync(abs, after)
  console.log(`version: ${file}`)
}

const json = (edit) => (text) => JSON.stringify(edit(JSON.parse(text)), null, 2) + '\n'

rewrite('package.json', json((pkg) => ({ ...pkg, version: next })))
rewrite(
  'package-lock.json',
  json((lock) => {
    lock.version = next
    lock.packages[''].version = next
    return lock
  }),
)
for (const target of targets()) {
  rewrite(path.relative(root, path.join(target.dir, 'package.json')), json((m) => ({ ...m, version: next })))
}
rewrite('Cargo.toml', (text) => text.replace(/^(\[package\][^[]*?^version\s*=\s*)"[^"]*"/m, `$1"${next}"`))
rewrite('Cargo.lock', (text) => text.replace(/(\[\[package\]\]\nname = "ferrocache"\nversion = )"[^"]*"/, `$1"${next}"`))
rewrite('binding.js', (text) =>
  text
    .replace(/expected \S+ but got/g, `expected ${next} but got`)
    .replace(/(bindingPackageVersion !== )'[^']*'/g, `$1'${next}'`),
)
console.log(`version: ${current} -> ${next}; commit, then tag v${next}`)
