'use strict'
// Makes sure the addon under test is a current release build: a debug build
// (what `npm test` makes) would measure the compiler's debug mode, not ferrocache.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const root = path.resolve(__dirname, '..')
const SOURCES = ['src', 'Cargo.toml', 'Cargo.lock', 'build.rs']

function mtime(p) {
  try {
    return fs.statSync(p).mtimeMs
  } catch {
    return 0
  }
}

/** Newest mtime under a file or directory (0 when missing). */
function newest(p) {
  let stat
  try {
    stat = fs.statSync(p)
  } catch {
    return 0
  }
  if (!stat.isDirectory()) return stat.mtimeMs
  return fs.readdirSync(p).reduce((m, name) => Math.max(m, newest(path.join(p, name))), 0)
}

function addonPath() {
  const name = fs.readdirSync(root).find((n) => /^ferrocache\..+\.node$/.test(n))
  return name === undefined ? null : path.join(root, name)
}

/** Cargo's release artifacts: target/release/ and target/<triple>/release/ (napi builds for a triple). */
function releaseArtifacts() {
  const target = process.env.CARGO_TARGET_DIR || path.join(root, 'target')
  const dirs = [path.join(target, 'release')]
  if (fs.existsSync(target)) for (const d of fs.readdirSync(target)) dirs.push(path.join(target, d, 'release'))
  return dirs.flatMap((dir) => {
    const name = fs.existsSync(dir) ? fs.readdirSync(dir).find((n) => /^(lib)?ferrocache\.(so|dylib|dll)$/.test(n)) : undefined
    return name === undefined ? [] : [path.join(dir, name)]
  })
}

/** 'release' when the .node is a copy of a cargo release artifact, else 'debug'. */
function profileOf(addon) {
  const size = fs.statSync(addon).size
  const same = (f) => fs.statSync(f).size === size && fs.readFileSync(f).equals(fs.readFileSync(addon))
  return releaseArtifacts().some(same) ? 'release' : 'debug'
}

/** Why a release build is needed, or null. */
function reasonToBuild() {
  const addon = addonPath()
  if (addon === null) return 'no ferrocache.*.node'
  const built = mtime(addon)
  const stale = SOURCES.find((s) => newest(path.join(root, s)) > built)
  if (stale !== undefined) return `${stale} is newer than the addon`
  if (profileOf(addon) !== 'release') return 'the addon is a debug build'
  return null
}

/** Builds when needed (unless BENCH_SKIP_BUILD=1); returns { profile, file, builtAt }. */
function ensureReleaseBuild(log) {
  const reason = reasonToBuild()
  if (reason !== null && process.env.BENCH_SKIP_BUILD === '1') {
    log(`build: skipped (BENCH_SKIP_BUILD=1) although ${reason}`)
  } else if (reason !== null) {
    log(`build: ${reason}; release build (about 2 min on 2 cores)...`)
    const args = [path.join(root, 'scripts', 'build.js'), '--release']
    const r = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] })
    if (r.status !== 0) throw new Error(`release build failed (${r.error ? r.error.message : `exit ${r.status}`})`)
  } else {
    log('build: the release addon is up to date')
  }
  const addon = addonPath()
  if (addon === null) throw new Error('no ferrocache.*.node to measure')
  return { profile: profileOf(addon), file: path.basename(addon), builtAt: new Date(mtime(addon)).toISOString() }
}

/**
 * Copies the addon to a temporary file and points the binding at it
 * (NAPI_RS_NATIVE_LIBRARY_PATH, inherited by child processes), so a build made
 * by someone else during the run cannot change what is measured. Removed at exit.
 */
function pinAddon(build) {
  const copy = path.join(os.tmpdir(), `ferro-bench-${process.pid}.node`)
  fs.copyFileSync(path.join(root, build.file), copy)
  process.env.NAPI_RS_NATIVE_LIBRARY_PATH = copy
  process.once('exit', () => fs.rmSync(copy, { force: true }))
}

module.exports = { ensureReleaseBuild, pinAddon }
