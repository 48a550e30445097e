import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { GOFER_BIN } from '../support/gofer-process.js';

describe('the built gofer executable', () => {
  it('runs directly, as `npm link` and the image run it (the build leaves it executable)', () => {
    const run = spawnSync(GOFER_BIN, ['--version'], { encoding: 'utf8' });
    expect(run.error).toBeUndefined();
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
