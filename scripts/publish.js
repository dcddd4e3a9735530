#!/usr/bin/env node
// The release workflow's publish step, after scripts/prepublish.js:
//   node scripts/publish.js [--dry-run]
// publishes every platform package (npm/<platform>/), then the main package,
// each with `--provenance --access public`. The main package goes last so
// that it never points at binaries that are not on the registry yet. A
// version the registry already has is skipped, so a re-run after a partial
// failure finishes the release instead of failing on what is done. A
// prerelease version (1.2.0-rc.1) goes to the `next` dist-tag, not `latest`.
'use strict'

const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { root, targets } = require('./platforms')

const dryRun = process.argv.includes('--dry-run')

/** Runs npm; on Windows through the shell, since npm is a .cmd there. */
function npm(args, cwd) {
  const win = process.platform === 'win32'
  const quoted = win ? args.map((a) => (/\s/.test(a) ? `"${a}"` : a)) : args
  return spawnSync('npm', quoted, { cwd, encoding: 'utf8', shell: win, timeout: 600_000 })
}

/** Whether the registry already has `name@version` (throws on anything but "not found"). */
function published(name, version) {
  const r = npm(['view', `${name}@${version}`, 'version', '--json'], root)
  if (r.status === 0) return r.stdout.trim() !== ''
  if (/E404|404 Not Found/.test(`${r.stdout}${r.stderr}`)) return false
  throw new Error(`npm view ${name}@${version} failed (exit ${r.status}): ${r.stderr.trim()}`)
}

function publish(dir) {
  const manifest = require(path.join(dir, 'package.json'))
  const id = `${manifest.name}@${manifest.version}`
  if (!dryRun && published(manifest.name, manifest.version)) {
    console.log(`publish: ${id} is already on the registry, skipped`)
    return
  }
  const args = ['publish', '--access', 'public', '--tag', manifest.version.includes('-') ? 'next' : 'latest']
  args.push(dryRun ? '--dry-run' : '--provenance')
  console.log(`publish: npm ${args.join(' ')} (${id})`)
  const r = spawnSync('npm', args, { cwd: dir, stdio: 'inherit', shell: process.platform === 'win32' })
  if (r.status !== 0) {
    console.error(`publish: ${id} failed (exit ${r.status === null ? r.signal : r.status})`)
    process.exit(1)
  }
}

for (const target of targets()) publish(target.dir)
if (require(path.join(root, 'package.json')).optionalDependencies === undefined) {
  console.error('publish: package.json has no optionalDependencies: run scripts/prepublish.js first')
  process.exit(1)
}
publish(root)
