/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/__test__'],
  testMatch: ['<rootDir>/__test__/**/*.spec.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }],
  },
  moduleFileExtensions: ['ts', 'js', 'json', 'node'],
  globalSetup: '<rootDir>/__test__/setup/global-setup.ts',
  globalTeardown: '<rootDir>/__test__/setup/global-teardown.ts',
  testTimeout: 30000,
  // Test files run in parallel on one Redis (each test uses its own keyPrefix); 2 cores here.
  maxWorkers: 2,
};
