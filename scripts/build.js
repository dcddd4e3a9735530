#!/usr/bin/env node
// Builds the addon with cargo and copies it where binding.js looks for it:
// `ferrocache.<platform>.node` at the package root. `--release` for an
// optimized build; `--target <triple>` to cross-compile (CI); `--zig` to link
// with cargo-zigbuild (the release workflow's Linux builds: glibc targets are
// linked against glibc 2.17, so the binary loads on old distributions too).
//
// This replaces `napi build` so that the napi CLI, whose per-platform optional
// packages this machine's registry does not all carry, is not a dependency.
'use strict'

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { platformOf, hostPlatform } = require('./platforms')

const root = path.resolve(__dirname, '..')
const args = process.argv.slice(2)
const release = args.includes('--release')
const targetAt = args.indexOf('--target')
const target = targetAt >= 0 ? args[targetAt + 1] : undefined
const zig = args.includes('--zig')

const cargoArgs = [zig ? 'zigbuild' : 'build', '--message-format=json-render-diagnostics']
if (release) cargoArgs.push('--release')
if (target) cargoArgs.push('--target', zig && target.endsWith('-gnu') ? `${target}.2.17` : target)
const build = spawnSync('cargo', cargoArgs, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 256 << 20 })
if (build.status !== 0) {
  console.error(`build: cargo failed (${build.status === null ? build.signal : `exit ${build.status}`})`)
  process.exit(build.status || 1)
}

// The cdylib artifact cargo reports: libferrocache.so / .dylib, or ferrocache.dll.
const library = build.stdout
  .toString()
  .split('\n')
  .filter((line) => line.startsWith('{'))
  .map((line) => JSON.parse(line))
  .filter((m) => m.reason === 'compiler-artifact' && m.target && m.target.name === 'ferrocache')
  .flatMap((m) => m.filenames)
  .find((f) => /\.(so|dylib|dll)$/.test(f))
if (!library) {
  console.error('build: cargo reported no ferrocache library')
  process.exit(1)
}
const dest = path.join(root, `ferrocache.${target ? platformOf(target) : hostPlatform()}.node`)
// Copy to a temporary name first: a process that has the old file loaded keeps its mapping.
fs.copyFileSync(library, dest + '.tmp')
fs.renameSync(dest + '.tmp', dest)
console.log(`build: ${path.relative(root, dest)} (${release ? 'release' : 'debug'})`)
