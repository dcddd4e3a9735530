/** The test harness itself: throwaway servers, redis-cli, waitFor. Needs no addon. */
import { freePort, startRedis, RedisServer } from './setup/redis-server';
import { isAlive, pingRaw } from './setup/redis-server';
import { redisCli, rejectionOf, scanKeys, testUrl, uniquePrefix, waitFor, cleanupPrefixes } from './helpers';

describe('harness', () => {
  afterAll(async () => {
    await cleanupPrefixes();
  });

  test('globalSetup exposes a working Redis as FERRO_TEST_URL', async () => {
    const url = testUrl();
    expect(url).toMatch(/^rediss?:\/\//);
    expect(await redisCli(url, 'PING')).toBe('PONG');
  });

  test('redisCli and scanKeys see what is written', async () => {
    const url = testUrl();
    const p = uniquePrefix('harness');
    expect(p).toMatch(/^t:harness:[0-9a-f]+:$/);
    await redisCli(url, 'SET', `${p}a`, 'hello world');
    await redisCli(url, 'SET', `${p}b`, '1');
    expect(await redisCli(url, 'GET', `${p}a`)).toBe('hello world');
    expect(await redisCli(url, 'GET', `${p}missing`)).toBe('');
    expect((await scanKeys(url, `${p}*`)).sort()).toEqual([`${p}a`, `${p}b`]);
    await cleanupPrefixes(url, [p]);
    expect(await scanKeys(url, `${p}*`)).toEqual([]);
  });

  test('waitFor returns the truthy value, and throws when the condition never holds', async () => {
    let n = 0;
    expect(await waitFor(() => (++n >= 3 ? n : 0), 5000, 1)).toBe(3);
    await expect(waitFor(() => false, 100, 10)).rejects.toThrow(/not met/);
  });

  test('rejectionOf fails on a resolved promise and on a synchronous throw', async () => {
    await expect(rejectionOf(() => Promise.resolve(1))).rejects.toThrow(/resolved/);
    await expect(
      rejectionOf(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow(/synchronously/);
    const boom = new Error('x');
    expect(await rejectionOf(() => Promise.reject(boom))).toBe(boom);
  });

  describe('startRedis', () => {
    let server: RedisServer | undefined;
    afterEach(async () => {
      await server?.stop();
      server = undefined;
    });

    test('start, stop and restart on the same port', async () => {
      server = await startRedis();
      const { port, url } = server;
      const firstPid = server.pid;
      expect(url).toBe(`redis://127.0.0.1:${port}`);
      expect(await pingRaw(port)).toBe(true);
      expect(await redisCli(url, 'SET', 'k', 'v')).toBe('OK');

      await server.stop();
      expect(isAlive(firstPid)).toBe(false);
      expect(await pingRaw(port)).toBe(false);
      await server.stop(); // idempotent

      await server.restart();
      expect(server.port).toBe(port);
      expect(server.pid).not.toBe(firstPid);
      expect(await pingRaw(port)).toBe(true);
      // Nothing is persisted: a restart starts empty.
      expect(await redisCli(url, 'EXISTS', 'k')).toBe('0');
    });

    test('an explicit port is used', async () => {
      const port = await freePort();
      server = await startRedis({ port });
      expect(server.port).toBe(port);
      expect(await redisCli(server.url, 'PING')).toBe('PONG');
    });

    test('a port already in use fails with a clear error, not a hang', async () => {
      server = await startRedis();
      await expect(startRedis({ port: server.port, readyTimeoutMs: 5000 })).rejects.toThrow(/redis-server on port/);
    });
  });
});
