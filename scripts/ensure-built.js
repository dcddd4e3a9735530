#!/usr/bin/env node
/**
 * `npm test` runs this first: builds the addon (debug) when there is no `ferrocache.*.node` at
 * the package root, or when a Rust source is newer than it. Exits non-zero when the build fails.
 */
'use strict';

const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');

/** Newest mtime (ms) of the files under `dir`, recursively; 0 when there are none. */
function newestUnder(dir) {
  let newest = 0;
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestUnder(p));
    else if (entry.isFile()) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

function reasonToBuild() {
  const binaries = fs
    .readdirSync(root)
    .filter((name) => /^ferrocache\..+\.node$/.test(name))
    .map((name) => ({ name, mtime: mtime(path.join(root, name)) }));
  if (binaries.length === 0) return 'no ferrocache.*.node at the package root';
  const built = Math.max(...binaries.map((b) => b.mtime));
  const sources = [
    ['src/', newestUnder(path.join(root, 'src'))],
    ['Cargo.toml', mtime(path.join(root, 'Cargo.toml'))],
    ['Cargo.lock', mtime(path.join(root, 'Cargo.lock'))],
    ['build.rs', mtime(path.join(root, 'build.rs'))],
  ];
  for (const [what, time] of sources) {
    if (time > built) return `${what} is newer than the built addon`;
  }
  return null;
}

const reason = reasonToBuild();
if (reason === null) {
  console.log('ensure-built: the addon is up to date');
  process.exit(0);
}

console.log(`ensure-built: ${reason}; building (debug)...`);
const result = spawnSync(process.execPath, [path.join(__dirname, 'build.js')], { cwd: root, stdio: 'inherit' });
if (result.error) {
  console.error(`ensure-built: could not run the build: ${result.error.message}`);
  process.exit(1);
}
if (result.status !== 0) {
  console.error(`ensure-built: the build failed (exit ${result.status === null ? result.signal : result.status})`);
  process.exit(result.status || 1);
}
