/**
 * What npm receives: the main package's tarball (entry points, lib/, README, LICENSE — no Rust,
 * no binaries, no tests), one well-formed platform package per napi target, one version
 * everywhere, and a loader error that names the platform. Needs no Redis and no build.
 */
import { execFile, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

interface Target {
  triple: string;
  platform: string;
  name: string;
  binary: string;
  dir: string;
}
interface Manifest {
  name: string;
  version: string;
  optionalDependencies?: Record<string, string>;
  [field: string]: unknown;
}
/* eslint-disable @typescript-eslint/no-var-requires */
const { root, hostPlatform, targets } = require('../scripts/platforms') as {
  root: string;
  hostPlatform(): string;
  targets(): Target[];
};
const rules = require('../scripts/package-rules') as {
  mainPackProblems(files: string[], pkg: Manifest): string[];
  platformPackProblems(files: string[], target: Target): string[];
  platformManifestProblems(manifest: Manifest, target: Target, pkg: Manifest): string[];
  versionProblems(pkg: Manifest): string[];
};
const { stagePlatform } = require('../scripts/prepublish') as {
  stagePlatform(target: Target, binary: string, dest: string): void;
};
/* eslint-enable @typescript-eslint/no-var-requires */

const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as Manifest;
const readManifest = (t: Target) => JSON.parse(fs.readFileSync(path.join(t.dir, 'package.json'), 'utf8')) as Manifest;

/** The files `npm pack` would put in the tarball of `dir`. */
function packedFiles(dir: string): Promise<string[]> {
  const win = process.platform === 'win32';
  return new Promise((resolve, reject) => {
    execFile(
      'npm',
      ['pack', '--dry-run', '--json'],
      { cwd: dir, shell: win, timeout: 120000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`npm pack --dry-run in ${dir} failed: ${err.message} ${stderr}`));
        const [info] = JSON.parse(stdout) as { files: { path: string }[] }[];
        resolve(info.files.map((f) => f.path));
      },
    );
  });
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ferrocache-package-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('the main package', () => {
  let files: string[];
  beforeAll(async () => {
    files = await packedFiles(root);
  }, 120000);

  test('holds the entry points, lib/, README and LICENSE, and nothing else', () => {
    expect(rules.mainPackProblems(files, pkg)).toEqual([]);
    expect(files).toEqual(expect.arrayContaining(['index.js', 'index.mjs', 'index.d.ts', 'binding.js', 'README.md', 'LICENSE']));
  });

  test('has no optionalDependencies in the repository (the release sets them)', () => {
    expect(pkg.optionalDependencies).toBeUndefined();
  });

  test('names one version everywhere: package.json, Cargo.toml, binding.js', () => {
    expect(rules.versionProblems(pkg)).toEqual([]);
  });

  test('without its platform package, require() names the platform and what to do', () => {
    const copy = path.join(tmp, 'bare', 'node_modules', pkg.name);
    for (const file of files) {
      fs.mkdirSync(path.dirname(path.join(copy, file)), { recursive: true });
      fs.copyFileSync(path.join(root, file), path.join(copy, file));
    }
    const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(pkg.name)})`], {
      cwd: path.join(tmp, 'bare'),
      encoding: 'utf8',
      timeout: 60000,
    });
    expect(r.status).not.toBe(0);
    const platform = hostPlatform();
    expect(r.stderr).toContain(`native binary for ${platform}`);
    expect(r.stderr).toContain(`optional dependency ${pkg.name}-${platform}`);
    expect(r.stderr).toContain('npm run build');
  });
});

describe('the platform packages', () => {
  test('npm/ holds one directory per napi target, and no other', () => {
    const dirs = fs.readdirSync(path.join(root, 'npm')).sort();
    expect(dirs).toEqual(targets().map((t) => t.platform).sort());
  });

  test.each(targets().map((t) => [t.platform, t] as const))('%s: package.json names, versions and restricts it', (_platform, target) => {
    expect(rules.platformManifestProblems(readManifest(target), target, pkg)).toEqual([]);
  });

  test.each(targets().map((t) => [t.platform, t] as const))(
    '%s: the tarball holds its .node file',
    async (_platform, target) => {
      const dummy = path.join(tmp, `dummy-${target.platform}.node`);
      fs.writeFileSync(dummy, 'not a real binary');
      const stage = path.join(tmp, 'stage', target.platform);
      stagePlatform(target, dummy, stage);
      expect(rules.platformPackProblems(await packedFiles(stage), target)).toEqual([]);
    },
    120000,
  );

  test('the release workflow builds every target', () => {
    const workflow = fs.readFileSync(path.join(root, '.github', 'workflows', 'release.yml'), 'utf8');
    const built = Array.from(workflow.matchAll(/^\s*(?:-\s+)?target:\s*([\w.-]+)\s*$/gm), (m) => m[1]);
    expect(built.sort()).toEqual(targets().map((t) => t.triple).sort());
  });
});
