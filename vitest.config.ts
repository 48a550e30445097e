import { resolve } from 'node:path';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [
    swc.vite({
      tsconfigFile: false,
      jsc: {
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
        target: 'es2023',
        keepClassNames: true,
      },
    }),
  ],
  resolve: {
    alias: [
      { find: /^@gofer\/proto\/es$/, replacement: resolve(import.meta.dirname, 'libs/proto/src/es.ts') },
      { find: /^@gofer\/([a-z-]+)$/, replacement: resolve(import.meta.dirname, 'libs/$1/src/index.ts') },
    ],
  },
  test: {
    include: ['libs/**/*.spec.ts', 'apps/**/*.spec.ts', 'test/**/*.spec.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration tests share one Docker engine and Postgres server; files isolate themselves by
    // database and queue prefix, but two cores cannot run many container-heavy files at once.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
