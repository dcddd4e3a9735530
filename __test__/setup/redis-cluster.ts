/**
 * A throwaway 3-master Redis Cluster for the tests: three `startRedis` servers with
 * `--cluster-enabled yes` (each keeps its nodes.conf in its own directory), joined by
 * `redis-cli --cluster create`, ready once every node reports `cluster_state:ok` and sees
 * every slot covered. Stopped by pid like any other test server.
 */
import { execFile } from 'child_process';
import { RedisServer, startRedis } from './redis-server';

export interface RedisCluster {
  /** The masters, in port order of creation. */
  readonly nodes: readonly RedisServer[];
  /** `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3` */
  readonly url: string;
  stop(): Promise<void>;
}

const MASTERS = 3;
const READY_TIMEOUT_MS = 30000;

function cli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', args, { timeout: 20000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`redis-cli ${args.join(' ')} failed: ${err.message} ${stdout} ${stderr}`));
      else resolve(stdout);
    });
  });
}

async function clusterReady(nodes: readonly RedisServer[]): Promise<boolean> {
  for (const node of nodes) {
    const info = await cli(['-p', String(node.port), 'CLUSTER', 'INFO']).catch(() => '');
    if (!/cluster_state:ok/.test(info) || !/cluster_slots_ok:16384/.test(info) || !new RegExp(`cluster_known_nodes:${nodes.length}\\b`).test(info)) {
      return false;
    }
  }
  return true;
}

export interface StartClusterOptions {
  /** More redis-server options of node `i` (TLS, say). */
  nodeArgs?: (i: number) => Promise<string[]>;
  /** `requirepass` of every node, set once the cluster is up (the cluster bus needs none). */
  password?: string;
}

export async function startCluster(opts: StartClusterOptions = {}): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
  };
  try {
    for (let i = 0; i < MASTERS; i++) {
      const extraArgs = ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', ...((await opts.nodeArgs?.(i)) ?? [])];
      nodes.push(await startRedis({ args: extraArgs }));
    }
    await cli(['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes']);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!(await clusterReady(nodes))) {
      if (Date.now() > deadline) throw new Error(`the test cluster did not reach cluster_state:ok within ${READY_TIMEOUT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const { password } = opts;
    if (password !== undefined) await Promise.all(nodes.map((n) => cli(['-p', String(n.port), 'CONFIG', 'SET', 'requirepass', password])));
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes, url: `redis+cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`, stop };
}
