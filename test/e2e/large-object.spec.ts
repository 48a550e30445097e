import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GOFER_BIN, TestCluster, type GoferProcess } from '../support/gofer-process.js';
import { apply } from '../support/runs.js';

const SIZE = 500 * 1024 * 1024;
/** Memory bounds (not timings): streaming must not hold the object in either process. */
const API_GROWTH_LIMIT = 32 * 1024 * 1024;
const CLI_GROWTH_LIMIT = 32 * 1024 * 1024;
const CLI_PEAK_LIMIT = 256 * 1024 * 1024;

/** Peak RSS (VmHWM) of a process, in bytes; it only grows, so the last reading before exit is the peak. */
function peakRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk);
  return hash.digest('hex');
}

describe('a 500 MB object through the CLI', () => {
  let cluster: TestCluster;
  let api: GoferProcess;
  let dir: string;

  beforeAll(async () => {
    cluster = await TestCluster.create('large_object', { GOFER_OBJECT_MAX_BYTES: String(SIZE) });
    api = await cluster.start('api');
    await apply(cluster.client(), 'id: big\ntasks:\n  - { id: a, image: busybox:latest }\n');
    dir = mkdtempSync(join(tmpdir(), 'gofer-large-'));
    // Incompressible content, written in 4 MiB pieces.
    const out = createWriteStream(join(dir, 'in.bin'));
    for (let written = 0; written < SIZE; written += 4 * 1024 * 1024) {
      if (!out.write(randomBytes(Math.min(4 * 1024 * 1024, SIZE - written)))) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
  }, 300_000);
  afterAll(async () => {
    await cluster?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the CLI, sampling its peak RSS until it exits. */
  async function gofer(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; peak: number }> {
    const child = spawn(process.execPath, [GOFER_BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', GOFER_HOST: api.grpcAddr, GOFER_TOKEN: cluster.token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    let peak = 0;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, peakRss(child.pid!));
      } catch {
        // exited
      }
    }, 20);
    const [code] = (await once(child, 'exit')) as [number | null];
    clearInterval(sampler);
    return { code, stdout, stderr, peak };
  }

  it('puts and gets it with the checksum intact and bounded memory in the API and the CLI', async () => {
    // A first, small transfer pays the one-time costs (code loading, JIT, buffers reaching working size),
    // so the growth below is what the 500 MB transfer itself holds.
    writeFileSync(join(dir, 'warm.bin'), randomBytes(32 * 1024 * 1024));
    const warmPut = await gofer(['pipeline', 'object', 'put', 'big', 'warm-up', join(dir, 'warm.bin')]);
    const warmGet = await gofer(['pipeline', 'object', 'get', 'big', 'warm-up', join(dir, 'warm.out')]);
    expect([warmPut.code, warmGet.code], warmPut.stderr + warmGet.stderr).toEqual([0, 0]);
    const apiBefore = peakRss(api.child.pid!);
    const put = await gofer(['pipeline', 'object', 'put', 'big', 'blob', join(dir, 'in.bin')]);
    expect(put.code, put.stderr).toBe(0);
    const get = await gofer(['pipeline', 'object', 'get', 'big', 'blob', join(dir, 'out.bin')]);
    expect(get.code, get.stderr).toBe(0);
    const apiGrowth = peakRss(api.child.pid!) - apiBefore;

    expect(statSync(join(dir, 'out.bin')).size).toBe(SIZE);
    const expected = await sha256(join(dir, 'in.bin'));
    expect(await sha256(join(dir, 'out.bin'))).toBe(expected);
    const [row] = await cluster.query<{ size: string; sha256: string }>("SELECT size, sha256 FROM objects WHERE key = 'blob'");
    expect(row).toEqual({ size: String(SIZE), sha256: expected });

    const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
    console.log(
      `500 MB object: API peak RSS grew ${mib(apiGrowth)}; CLI peak RSS put ${mib(put.peak)} (32 MiB object: ${mib(warmPut.peak)}), ` +
        `get ${mib(get.peak)} (32 MiB object: ${mib(warmGet.peak)})`,
    );
    expect(apiGrowth).toBeLessThan(API_GROWTH_LIMIT);
    expect(put.peak).toBeGreaterThan(0);
    // The CLI holds no more for 500 MB than for 32 MB (give or take GC timing).
    expect(put.peak - warmPut.peak).toBeLessThan(CLI_GROWTH_LIMIT);
    expect(get.peak - warmGet.peak).toBeLessThan(CLI_GROWTH_LIMIT);
    expect(Math.max(put.peak, get.peak)).toBeLessThan(CLI_PEAK_LIMIT);
  }, 600_000);
});
