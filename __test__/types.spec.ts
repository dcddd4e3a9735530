/** index.d.ts compiles for a strict TypeScript consumer (writes nothing; needs no Redis). */
import { execFile } from 'child_process';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const PROJECT = path.join(__dirname, 'consumer', 'tsconfig.json');

test('a strict consumer of every export type-checks', async () => {
  const result = await new Promise<{ code: number; out: string }>((resolve) => {
    execFile(
      process.execPath,
      [TSC, '--noEmit', '--strict', '-p', PROJECT],
      { cwd: ROOT, timeout: 120000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, out: `${stdout}${stderr}` });
      },
    );
  });
  if (result.code !== 0) throw new Error(`tsc failed (exit ${result.code}):\n${result.out}`);
}, 120000);
