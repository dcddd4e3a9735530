/**
 * Jest globalSetup: one redis-server for the whole run, unless REDIS_URL points at one, and a
 * 3-master Redis Cluster (only without REDIS_URL: an external Redis comes without a cluster).
 * The URLs reach the tests as FERRO_TEST_URL and FERRO_TEST_CLUSTER_URL; the pids are written
 * to a file for globalTeardown, which stops the servers by those pids.
 */
import { startCluster } from './redis-cluster';
import { startRedis } from './redis-server';
import { reapStale, writeState } from './state';

export default async function globalSetup(): Promise<void> {
  await reapStale();
  const external = process.env.REDIS_URL;
  if (external !== undefined && external !== '') {
    process.env.FERRO_TEST_URL = external;
    delete process.env.FERRO_TEST_STATE;
    delete process.env.FERRO_TEST_CLUSTER_URL;
    return;
  }
  const server = await startRedis();
  const cluster = await startCluster().catch(async (err) => {
    await server.stop();
    throw err;
  });
  process.env.FERRO_TEST_URL = server.url;
  process.env.FERRO_TEST_CLUSTER_URL = cluster.url;
  process.env.FERRO_TEST_STATE = writeState({
    pid: server.pid,
    port: server.port,
    url: server.url,
    dir: server.dir,
    owner: process.pid,
    cluster: cluster.nodes.map((n) => ({ pid: n.pid, port: n.port, dir: n.dir })),
  });
}
