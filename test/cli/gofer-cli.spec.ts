// The `gofer` CLI end to end against a real gRPC server (the stub), in-process for most commands and
// as a spawned process (from source, see ts-register.mjs) for exit codes and stderr.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ConfigFormat } from '@gofer/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../apps/gofer/src/cli/context.js';
import { runCli } from '../../apps/gofer/src/cli/program.js';
import { deadAddress, startStubGofer, type StubGofer } from './stub-gofer.server.js';

const ROOT = new URL('../../', import.meta.url);

/** Runs the CLI in-process with captured stdout/stderr (stderr a terminal when `tty`). */
async function gofer(args: string[], env: Record<string, string>, stdin = '', tty = false) {
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), tty ? { isTTY: true, columns: 80 } : {});
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const input = new PassThrough();
  input.end(stdin);
  const io: CliIo = { stdout, stderr, stdin: input, env };
  const code = await runCli(args, io);
  return { code, out, err };
}

const FROM_SOURCE = ['--import', './test/cli/ts-register.mjs', 'apps/gofer/src/main.ts'];
const BUILT = 'apps/gofer/dist/main.js';

/**
 * Runs the CLI as its own process: from source by default (no build needed), or the built program
 * (`npm run build`, which `npm test` runs first) when `built` is set.
 */
function goferProcess(args: string[], env: Record<string, string> = {}, built = false) {
  if (built && !existsSync(new URL(BUILT, ROOT))) throw new Error(`${BUILT} is missing: run npm run build first`);
  return new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [...(built ? [BUILT] : FROM_SOURCE), ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

describe('gofer CLI against a gRPC server', () => {
  let stub: StubGofer;
  let env: Record<string, string>;
  let dir: string;

  beforeAll(async () => {
    stub = await startStubGofer();
    env = { GOFER_HOST: stub.address, GOFER_TOKEN: 'cli-token' };
    dir = await mkdtemp(join(tmpdir(), 'gofer-cli-'));
  });
  afterAll(async () => {
    await stub?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('pipeline get --output json prints the snake_case shape, sending the token', async () => {
    const before = stub.authorizations.length;
    const { code, out, err } = await gofer(['pipeline', 'get', 'hello', '--output', 'json', '-n', 'team-a'], env);
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(JSON.parse(out)).toStrictEqual({
      namespace: 'team-a',
      id: 'hello',
      name: 'Hello',
      description: 'Says hello.',
      state: 'disabled',
      parallelism: 2,
      latest_config_version: 3,
      created: '2025-01-02T03:04:05.000Z',
      updated: '2025-01-02T03:05:05.000Z',
    });
    expect(stub.authorizations.slice(before)).toEqual(['Bearer cli-token']);
  });

  it('pipeline get prints a readable summary', async () => {
    const { code, out } = await gofer(['pipeline', 'get', 'hello'], env);
    expect(code).toBe(0);
    expect(out).toMatch(/^pipeline hello \(Hello\) in namespace default\n {2}Says hello\.\n/);
    expect(out).toMatch(/^ {2}state +disabled$/m);
    expect(out).toMatch(/^ {2}parallelism +2$/m);
  });

  it('prints the server message for NOT_FOUND and exits 1', async () => {
    const { code, out, err } = await gofer(['pipeline', 'get', 'nope'], env);
    expect({ code, out, err }).toEqual({ code: 1, out: '', err: 'pipeline "nope" not found\n' });
  });

  it('pipeline apply sends the file with a format hint and prints the new version', async () => {
    const file = join(dir, 'hello.json');
    await writeFile(file, '{"id":"hello","tasks":[]}');
    const { code, out, err } = await gofer(['pipeline', 'apply', file], env);
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out).toBe('updated pipeline hello to version 4\n');
    const request = stub.applied.at(-1)!;
    expect(request.format).toBe(ConfigFormat.CONFIG_FORMAT_JSON);
    expect(request.namespaceId).toBe('default');
    expect(Buffer.from(request.config).toString()).toBe('{"id":"hello","tasks":[]}');
  });

  it('pipeline apply tells a person at a terminal that the pipeline is disabled', async () => {
    const file = join(dir, 'hello.yaml');
    await writeFile(file, 'id: hello\n');
    const { code, err } = await gofer(['pipeline', 'apply', file], env, '', true);
    expect(code).toBe(0);
    expect(err).toBe('note: hello is disabled; enable it with gofer pipeline enable hello\n');
    expect(stub.applied.at(-1)!.format).toBe(ConfigFormat.CONFIG_FORMAT_YAML);
  });

  it('pipeline apply - reads stdin and prints every validation error', async () => {
    const { code, out, err } = await gofer(['pipeline', 'apply', '-'], env, 'id: hello\ntasks: [{id: x, depends_on: {buidl: success}}]\n');
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toBe('tasks[3].depends_on.buidl: unknown task "buidl"\ntasks[0].image: required\n');
    expect(stub.applied.at(-1)!.format).toBe(ConfigFormat.CONFIG_FORMAT_UNSPECIFIED);
  });

  it('pipeline run passes -v variables and prints the run id', async () => {
    const { code, out } = await gofer(['pipeline', 'run', 'hello', '-v', 'WHO=you', '-v', 'Q=a=b'], env);
    expect(code).toBe(0);
    expect(out).toMatch(/^started run \d+ of hello\n$/);
    expect(stub.started.at(-1)!.variables).toEqual({ WHO: 'you', Q: 'a=b' });
  });

  it('pipeline run --wait waits, prints the summary and exits 0 when the run succeeds', async () => {
    const { code, out, err } = await gofer(['pipeline', 'run', 'hello', '--wait'], env);
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out).toMatch(/^run \d+ of hello: successful in 2\.5s\n\nTASK +STATUS +EXIT +ATTEMPT +DURATION +REASON\ngreet +successful +0 +1 +2\.0s\n$/);
  });

  it('pipeline run --wait exits 1 when the run fails, saying where to look', async () => {
    const { code, out, err } = await gofer(['pipeline', 'run', 'broken', '--wait'], env);
    expect(code).toBe(1);
    expect(out).toMatch(/^run (\d+) of broken: failed in 2\.5s \(abnormal_exit: task greet failed\)/);
    expect(out).toMatch(/^greet +failed +3 +1 +2\.0s +abnormal_exit: exited with code 3$/m);
    expect(err).toMatch(/^run \d+ failed: see why with gofer taskrun logs broken \d+ greet\n$/);
  });

  it('pipeline run --wait --output json prints only the final run with its task runs', async () => {
    const { code, out } = await gofer(['pipeline', 'run', 'hello', '--wait', '-o', 'json'], env);
    expect(code).toBe(0);
    const json = JSON.parse(out);
    expect(json).toMatchObject({
      pipeline: 'hello',
      state: 'complete',
      status: 'successful',
      status_reason: null,
      variables: { WHO: 'world' },
      config_version: 3,
    });
    expect(json.task_runs).toEqual([
      expect.objectContaining({ task: 'greet', status: 'successful', exit_code: 0, image: 'busybox:latest' }),
    ]);
  });

  it('pipeline run --wait on a terminal draws live progress on stderr and clears it', async () => {
    const { code, out, err } = await gofer(['pipeline', 'run', 'hello', '--wait'], env, '', true);
    expect(code).toBe(0);
    // A line per task redrawn in place (clear-line), the cursor hidden meanwhile and shown again.
    expect(err).toMatch(/\x1b\[2K {2}. greet +running/);
    expect(err.startsWith('\x1b[?25l')).toBe(true);
    expect(err.endsWith('\x1b[J\x1b[?25h')).toBe(true);
    // The summary goes to stdout, untouched by progress.
    expect(out).toMatch(/^run \d+ of hello: successful in 2\.5s\n/);
  });

  it('taskrun logs writes stdout chunks to stdout and stderr chunks to stderr', async () => {
    const { code, out, err } = await gofer(['taskrun', 'logs', 'hello', '1', 'greet'], env);
    expect({ code, out, err }).toEqual({ code: 0, out: 'hello world\n', err: 'warning: shy\n' });
  });

  it('taskrun list --output json prints an array', async () => {
    const { code, out } = await gofer(['taskrun', 'list', 'hello', '1', '--output', 'json'], env);
    expect(code).toBe(0);
    const list = JSON.parse(out);
    expect(Array.isArray(list)).toBe(true);
    expect(list[0]).toMatchObject({ pipeline: 'hello', run: 1, task: 'greet' });
  });

  it('works as a process: JSON on stdout, nothing on stderr, exit 0', async () => {
    const { code, out, err } = await goferProcess(['--host', stub.address, '--output', 'json', 'pipeline', 'get', 'hello']);
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(JSON.parse(out)).toMatchObject({ id: 'hello', state: 'disabled' });
  });

  it('works as the built program (finds proto/ from libs/proto/dist)', async () => {
    const { code, out, err } = await goferProcess(['--host', stub.address, '-o', 'json', 'pipeline', 'get', 'hello'], {}, true);
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(JSON.parse(out)).toMatchObject({ id: 'hello', state: 'disabled', latest_config_version: 3 });
  });
});

describe('gofer CLI errors as a process', () => {
  it('prints one line and exits 1 when nothing listens at --host', async () => {
    const host = await deadAddress();
    const { code, out, err } = await goferProcess(['--host', host, 'pipeline', 'list']);
    expect({ code, out, err }).toEqual({ code: 1, out: '', err: `cannot reach Gofer at ${host}: is the service running?\n` });
  });

  it('reads the address from GOFER_HOST', async () => {
    const host = await deadAddress();
    const { code, err } = await goferProcess(['run', 'list', 'hello'], { GOFER_HOST: host });
    expect({ code, err }).toEqual({ code: 1, err: `cannot reach Gofer at ${host}: is the service running?\n` });
  });

  it('exits 2 on a malformed -v, before calling the API', async () => {
    const { code, out, err } = await goferProcess(['--host', '127.0.0.1:1', 'pipeline', 'run', 'hello', '-v', 'NOEQUALS']);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toMatch(/^error: option '-v, --var <KEY=VALUE>' argument 'NOEQUALS' is invalid\. expected KEY=VALUE/);
    expect(err.trimEnd().split('\n')).toHaveLength(1);
  });

  it('exits 2 on an unknown command', async () => {
    const { code, err } = await goferProcess(['pipline', 'list']);
    expect(code).toBe(2);
    expect(err).toMatch(/^error: unknown command 'pipline'/);
  });
});
