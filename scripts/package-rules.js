// What the published packages must hold, as functions that return the list of
// problems (empty = fine). One set of rules for the Jest spec, the install test
// and the release workflow, so that what CI checks is what npm receives.
'use strict'

const fs = require('node:fs')
const path = require('node:path')
const { root } = require('./platforms')

/** Top-level files and folders that belong to development only (named in the problem). */
const DEV_ONLY = /^(src|target|__test__|bench|examples|scripts|npm|node_modules|coverage|\.github|\.ci|\.cargo)\/|^(Cargo\.(toml|lock)|build\.rs|rustfmt\.toml|tsconfig\.json|jest\.config\.js)$/

/** Every path (relative, `/`-separated) that package.json's main, types and exports point at. */
function entryPoints(pkg) {
  const out = new Set()
  const visit = (value) => {
    if (typeof value === 'string') out.add(path.posix.normalize(value))
    else if (value && typeof value === 'object') Object.values(value).forEach(visit)
  }
  visit([pkg.main, pkg.types, pkg.exports])
  return out
}

/** Files under `dir` (relative to the package root, `/`-separated), recursively. */
function filesUnder(dir) {
  const abs = path.join(root, dir)
  if (!fs.existsSync(abs)) return []
  return fs.readdirSync(abs, { withFileTypes: true }).flatMap((e) => {
    const rel = `${dir}/${e.name}`
    return e.isDirectory() ? filesUnder(rel) : [rel]
  })
}

/**
 * The main package: its entry points (main, types, every `exports` target), binding.js, all of
 * lib/, README and LICENSE; no native binary (those come from the platform packages), no Rust
 * sources, tests, benchmarks, examples or build files.
 */
function mainPackProblems(files, pkg) {
  const have = new Set(files)
  const problems = []
  const required = ['package.json', 'README.md', 'LICENSE', 'binding.js', ...entryPoints(pkg), ...filesUnder('lib')]
  for (const file of new Set(required)) if (!have.has(file)) problems.push(`missing ${file}`)
  const allowed = new Set([...required, 'binding.d.ts'])
  for (const file of files) {
    if (/\.node$/.test(file)) problems.push(`native binary ${file} (it belongs in a platform package)`)
    else if (DEV_ONLY.test(file)) problems.push(`development file ${file}`)
    else if (/\.(spec|test)\.[cm]?[jt]s$/.test(file)) problems.push(`test file ${file}`)
    else if (!allowed.has(file)) problems.push(`unexpected file ${file} (not an entry point, lib/, README or LICENSE)`)
  }
  return problems
}

/** A platform package: its package.json, README, LICENSE and its one `.node` file. */
function platformPackProblems(files, target) {
  const allowed = new Set(['package.json', 'README.md', 'LICENSE', target.binary])
  const problems = files.filter((f) => !allowed.has(f)).map((f) => `${target.name}: unexpected file ${f}`)
  for (const f of ['package.json', target.binary]) {
    if (!files.includes(f)) problems.push(`${target.name}: missing ${f}`)
  }
  return problems
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b)

/** npm/<platform>/package.json: named, versioned, licensed like the main package, installable only on its platform. */
function platformManifestProblems(manifest, target, pkg) {
  const [os, cpu, abi] = target.platform.split('-')
  const expected = {
    name: target.name,
    version: pkg.version,
    main: target.binary,
    files: [target.binary],
    license: pkg.license,
    engines: pkg.engines,
    os: [os],
    cpu: [cpu],
    libc: os === 'linux' ? [abi === 'gnu' ? 'glibc' : abi] : undefined,
  }
  if (pkg.repository !== undefined) expected.repository = pkg.repository
  return Object.entries(expected)
    .filter(([field, want]) => !same(manifest[field], want))
    .map(([field, want]) => `npm/${target.platform}/package.json: ${field} is ${JSON.stringify(manifest[field])}, expected ${JSON.stringify(want)}`)
}

/** The version everywhere a release needs it: the Rust crate and binding.js' version check agree with package.json. */
function versionProblems(pkg) {
  const problems = []
  const cargo = fs.readFileSync(path.join(root, 'Cargo.toml'), 'utf8')
  const crate = /^\[package\][^[]*?^version\s*=\s*"([^"]+)"/m.exec(cargo)
  if (!crate || crate[1] !== pkg.version) problems.push(`Cargo.toml: version ${crate && crate[1]}, expected ${pkg.version}`)
  const binding = fs.readFileSync(path.join(root, 'binding.js'), 'utf8')
  const stale = new Set([...binding.matchAll(/expected (\S+) but got/g)].map((m) => m[1]).filter((v) => v !== pkg.version))
  if (stale.size > 0) problems.push(`binding.js: checks for version ${[...stale].join(', ')}, expected ${pkg.version}`)
  return problems
}

module.exports = { mainPackProblems, platformPackProblems, platformManifestProblems, versionProblems }
