#!/usr/bin/env node
// Proves what a user's `npm install ferrocache` gets, on this machine:
//   node scripts/install-test.js [--no-build] [--keep]
// 1. builds this platform's binary in release mode (`--no-build`: use the
//    ferrocache.<platform>.node already at the root, e.g. a CI artifact);
// 2. `npm pack`s the main package and this platform's package, and checks
//    what each tarball holds (scripts/package-rules.js);
// 3. installs both tarballs into a fresh project, with no Rust toolchain on
//    PATH, and runs scripts/install-test/consumer.{cjs,mjs} there: require()
//    and import() of `ferrocache` and `ferrocache/express`, and a client on
//    memory://.
// The last line is `install-test: passed` or `install-test: failed: <why>`;
// the exit status says the same.
'use strict'

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { root, hostPlatform, targets } = require('./platforms')
const { mainPackProblems, platformPackProblems } = require('./package-rules')
const { stagePlatform } = require('./prepublish')

const args = process.argv.slice(2)
const win = process.platform === 'win32'

class Failure extends Error {}

/** Runs a command to completion; throws a Failure with its output when it fails. */
function run(cmd, cmdArgs, opts = {}) {
  const quoted = win ? cmdArgs.map((a) => (/\s/.test(a) ? `"${a}"` : a)) : cmdArgs
  const r = spawnSync(cmd, quoted, {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    timeout: 900_000,
    // npm is a .cmd on Windows, which only a shell runs.
    shell: win && cmd === 'npm',
    ...opts,
  })
  if (r.status !== 0) {
    const output = `${r.stdout || ''}${r.stderr || ''}`.trim().split('\n').slice(-30).join('\n')
    throw new Failure(`${cmd} ${cmdArgs.join(' ')} exited ${r.status === null ? r.signal : r.status}${r.error ? ` (${r.error.message})` : ''}\n${output}`)
  }
  return r.stdout
}

/** PATH without any directory that holds cargo or rustc: the consumer side must not need Rust. */
function pathWithoutRust() {
  const names = win ? ['cargo.exe', 'rustc.exe'] : ['cargo', 'rustc']
  return (process.env.PATH || '')
    .split(path.delimiter)
    .filter((dir) => dir !== '' && !names.some((n) => fs.existsSync(path.join(dir, n))))
    .join(path.delimiter)
}

/** `npm pack` of `dir` into `dest`; returns the tarball's path and the files it holds. */
function pack(dir, dest) {
  const [info] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', dest], { cwd: dir }))
  return { tarball: path.join(dest, info.filename), files: info.files.map((f) => f.path) }
}

/** Every `.node` file under `dir`. */
function nativeFilesUnder(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) return nativeFilesUnder(p)
    return e.name.endsWith('.node') ? [p] : []
  })
}

function installTest(tmp) {
  const platform = hostPlatform()
  const target = targets().find((t) => t.platform === platform)
  if (!target) throw new Failure(`${platform} is not one of package.json napi.targets`)

  if (!args.includes('--no-build')) {
    console.log('install-test: building the release binary (node scripts/build.js --release)')
    run(process.execPath, [path.join(__dirname, 'build.js'), '--release'], { cwd: root, stdio: 'inherit' })
  }
  const binary = path.join(root, target.binary)
  if (!fs.existsSync(binary)) throw new Failure(`no ${target.binary} at the package root`)

  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
  // Installing the tarball would send npm to the registry for them, where this version may not exist yet.
  if (pkg.optionalDependencies !== undefined) {
    throw new Failure('package.json has optionalDependencies: scripts/prepublish.js sets them at release time only')
  }
  const main = pack(root, tmp)
  const stage = path.join(tmp, 'stage', target.platform)
  stagePlatform(target, binary, stage)
  const plat = pack(stage, tmp)
  const problems = [...mainPackProblems(main.files, pkg), ...platformPackProblems(plat.files, target)]
  if (problems.length > 0) throw new Failure(`package contents:\n  - ${problems.join('\n  - ')}`)
  console.log(`install-test: packed ${path.basename(main.tarball)} (${main.files.length} files), ${path.basename(plat.tarball)}`)

  const app = path.join(tmp, 'app')
  fs.mkdirSync(app)
  const env = Object.fromEntries(
    // Windows spells it Path; the copy must hold one PATH only.
    Object.entries(process.env).filter(([k]) => !['PATH', 'CARGO_HOME', 'RUSTUP_HOME'].includes(k.toUpperCase())),
  )
  env.PATH = pathWithoutRust()
  run('npm', ['init', '-y'], { cwd: app, env })
  run('npm', ['install', main.tarball, plat.tarball, '--no-audit', '--no-fund'], { cwd: app, env })
  const installed = path.join(app, 'node_modules', pkg.name)
  const stray = nativeFilesUnder(installed)
  if (stray.length > 0) throw new Failure(`the main package holds native binaries: ${stray.join(', ')}`)
  if (!fs.existsSync(path.join(app, 'node_modules', target.name, target.binary))) {
    throw new Failure(`${target.name} did not install its ${target.binary}`)
  }

  for (const consumer of ['consumer.cjs', 'consumer.mjs']) {
    fs.copyFileSync(path.join(__dirname, 'install-test', consumer), path.join(app, consumer))
    process.stdout.write(run(process.execPath, [consumer], { cwd: app, env }))
  }
  return platform
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ferrocache-install-'))
let status = 0
try {
  const platform = installTest(tmp)
  console.log(`install-test: passed (${platform}, installed from tarballs, no Rust on PATH, require + import on memory://)`)
} catch (err) {
  status = 1
  console.error(err instanceof Failure ? err.message : err)
  console.log(`install-test: failed: ${String(err.message).split('\n')[0]}`)
} finally {
  if (args.includes('--keep')) console.log(`install-test: kept ${tmp}`)
  else fs.rmSync(tmp, { recursive: true, force: true })
}
process.exit(status)
