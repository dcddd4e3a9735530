/**
 * Jest globalSetup: one redis-server for the whole run, unless REDIS_URL points at one.
 * The URL reaches the tests as FERRO_TEST_URL; the pid is written to a file for
 * globalTeardown, which stops the server by that pid.
 */
import { startRedis } from './redis-server';
import { reapStale, writeState } from './state';

export default async function globalSetup(): Promise<void> {
  await reapStale();
  const external = process.env.REDIS_URL;
  if (external !== undefined && external !== '') {
    process.env.FERRO_TEST_URL = external;
    delete process.env.FERRO_TEST_STATE;
    return;
  }
  const server = await startRedis();
  process.env.FERRO_TEST_URL = server.url;
  process.env.FERRO_TEST_STATE = writeState({
    pid: server.pid,
    port: server.port,
    url: server.url,
    dir: server.dir,
    owner: process.pid,
  });
}
