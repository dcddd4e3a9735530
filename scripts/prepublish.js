#!/usr/bin/env node
// The release workflow's last step before `npm publish` (no network, so it can
// run anywhere):
//   node scripts/prepublish.js --artifacts <dir> [--tag v1.2.3]
// 1. checks that the tag, package.json, npm/*/package.json, Cargo.toml and
//    binding.js name one version, and that each platform manifest is right;
// 2. puts each `ferrocache.<platform>.node` found under <dir> (the downloaded
//    build artifacts) into npm/<platform>/ with the LICENSE — every target of
//    package.json `napi.targets` must have one: a release is all or nothing;
// 3. sets the main package.json's `optionalDependencies` to the platform
//    packages at this version. They are not committed: a development checkout
//    would otherwise ask the registry for versions that do not exist yet.
'use strict'

const fs = require('node:fs')
const path = require('node:path')
const { root, targets } = require('./platforms')
const { platformManifestProblems, versionProblems } = require('./package-rules')

/** Copies a platform package (manifest, README, LICENSE, binary) into `dest`. */
function stagePlatform(target, binary, dest) {
  fs.mkdirSync(dest, { recursive: true })
  for (const file of ['package.json', 'README.md']) fs.copyFileSync(path.join(target.dir, file), path.join(dest, file))
  fs.copyFileSync(path.join(root, 'LICENSE'), path.join(dest, 'LICENSE'))
  fs.copyFileSync(binary, path.join(dest, target.binary))
}

/** Every file under `dir`, recursively, by base name (download-artifact puts each artifact in a folder of its own). */
function findFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name)
    return e.isDirectory() ? findFiles(p) : [p]
  })
}

function main() {
  const args = process.argv.slice(2)
  const option = (name) => {
    const at = args.indexOf(name)
    return at >= 0 ? args[at + 1] : undefined
  }
  const artifacts = option('--artifacts')
  const tag = option('--tag') || (process.env.GITHUB_REF_TYPE === 'tag' ? process.env.GITHUB_REF_NAME : undefined)
  if (!artifacts) {
    console.error('usage: node scripts/prepublish.js --artifacts <dir> [--tag v<version>]')
    process.exit(2)
  }

  const pkgPath = path.join(root, 'package.json')
  const pkg = JSON.parse(fs.readFileSync(pkgPath, 'utf8'))
  const problems = versionProblems(pkg)
  if (tag !== undefined && tag !== `v${pkg.version}`) problems.push(`tag ${tag} does not match package.json version ${pkg.version}`)
  // npm rejects a provenance statement whose source repository is not the package's `repository`.
  const repo = process.env.GITHUB_REPOSITORY
  const url = pkg.repository && (pkg.repository.url || pkg.repository)
  if (repo && !(typeof url === 'string' && url.toLowerCase().includes(`github.com/${repo.toLowerCase()}`))) {
    problems.push(`package.json repository is ${JSON.stringify(url)}, but this is github.com/${repo} (set it here and in npm/*/package.json)`)
  }
  const found = new Map(findFiles(artifacts).map((f) => [path.basename(f), f]))
  for (const target of targets()) {
    const manifest = JSON.parse(fs.readFileSync(path.join(target.dir, 'package.json'), 'utf8'))
    problems.push(...platformManifestProblems(manifest, target, pkg))
    if (!found.has(target.binary)) problems.push(`no ${target.binary} under ${artifacts} (the ${target.triple} build)`)
  }
  if (problems.length > 0) {
    console.error(`prepublish: not publishing:\n  - ${problems.join('\n  - ')}`)
    process.exit(1)
  }

  for (const target of targets()) {
    stagePlatform(target, found.get(target.binary), target.dir)
    console.log(`prepublish: npm/${target.platform}/${target.binary}`)
  }
  pkg.optionalDependencies = Object.fromEntries(targets().map((t) => [t.name, pkg.version]))
  fs.writeFileSync(pkgPath, JSON.stringify(pkg, null, 2) + '\n')
  console.log(`prepublish: ${pkg.name}@${pkg.version} depends optionally on ${targets().length} platform packages`)
}

if (require.main === module) main()

module.exports = { stagePlatform }
