/** The two backends the framework tests run on: the shared Redis, and an embedded memory:// store. */
import { randomBytes } from 'crypto';
import { testUrl } from './helpers';

export interface Backend {
  name: 'redis' | 'memory';
  /** A URL for a client of this test: the shared Redis, or a memory:// store of its own. */
  url(): string;
}

export const BACKENDS: Backend[] = [
  { name: 'redis', url: () => testUrl() },
  { name: 'memory', url: () => `memory://fw-${randomBytes(6).toString('hex')}` },
];
