// The platforms ferrocache ships binaries for, named the way napi-rs' loader
// (binding.js) names them: `linux-x64-gnu`, `darwin-arm64`, `win32-x64-msvc`...
// One platform = one Rust target in package.json `napi.targets` = one npm
// package `ferrocache-<platform>` in npm/<platform>/ holding
// `ferrocache.<platform>.node`.
'use strict'

const path = require('node:path')

const root = path.resolve(__dirname, '..')

const ARCH = { x86_64: 'x64', aarch64: 'arm64', i686: 'ia32', armv7: 'arm' }

/** The platform of a Rust target triple (`aarch64-unknown-linux-musl` → `linux-arm64-musl`). */
function platformOf(triple) {
  const [arch, , os, abi] = triple.split('-')
  const a = ARCH[arch] || arch
  if (os === 'darwin') return `darwin-${a}`
  if (os === 'windows') return `win32-${a}-${abi}`
  return `linux-${a}-${abi.replace(/eabihf$/, '')}`
}

/** The platform of the running Node. */
function hostPlatform() {
  const a = process.arch
  if (process.platform === 'darwin') return `darwin-${a}`
  if (process.platform === 'win32') return `win32-${a}-msvc`
  const musl = !process.report.getReport().header.glibcVersionRuntime
  return `linux-${a}-${musl ? 'musl' : 'gnu'}`
}

/** Every target of package.json `napi.targets`, with its platform, npm package name and directory. */
function targets() {
  const pkg = require(path.join(root, 'package.json'))
  return pkg.napi.targets.map((triple) => {
    const platform = platformOf(triple)
    return {
      triple,
      platform,
      name: `${pkg.name}-${platform}`,
      binary: `${pkg.napi.binaryName}.${platform}.node`,
      dir: path.join(root, 'npm', platform),
    }
  })
}

module.exports = { root, platformOf, hostPlatform, targets }
