/** Jest globalTeardown: stops the redis-server globalSetup started, by the pid in its state file. */
import { stopFromState } from './state';

export default async function globalTeardown(): Promise<void> {
  const file = process.env.FERRO_TEST_STATE;
  if (file === undefined || file === '') return; // REDIS_URL was given: not ours to stop
  await stopFromState(file);
  delete process.env.FERRO_TEST_STATE;
}
