// ESM + TypeScript: ts-jest's ESM preset, run with --experimental-vm-modules (see package.json).
export default {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.test.json' }] },
  testTimeout: 60_000,
  // The real Docker Engine the lab suites run on: started once for the run, stopped after it.
  globalSetup: '<rootDir>/__tests__/helpers/engine-setup.cjs',
  globalTeardown: '<rootDir>/__tests__/helpers/engine-teardown.cjs',
  reporters: ['default', '<rootDir>/__tests__/helpers/summary-reporter.cjs'],
};
