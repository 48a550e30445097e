// The built `gofer` CLI, spawned as its own process (no TTY), against a real Gofer (API + worker,
// Postgres, Redis, Docker): the CLI contract of docs/design.md §9, asserting exit codes, JSON shapes, error
// lines and container output exactly, and human formatting only loosely.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, GOFER_BIN, TestCluster, waitFor, type GoferProcess } from '../support/gofer-process.js';

interface CliResult {
  code: number | null;
  out: string;
  err: string;
}

/** A `gofer` process still running, with what it printed so far. */
interface RunningCli {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  done: Promise<CliResult>;
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const DEAD_HOST = '127.0.0.1:1';

const HELLO = `
id: cli-hello
name: CLI hello
tasks:
  - id: greet
    image: busybox:latest
    script: 'echo "hello $WHO"; printf "no newline at the end"'
  - id: complain
    image: busybox:latest
    script: 'echo "to stderr" >&2'
  - id: after
    image: busybox:latest
    command: [sh, -c, 'echo "after greet in run $GOFER_RUN_ID"']
    depends_on: { greet: success }
`;

// Fails in run 1 only, so a retry (run 2) succeeds, re-using "ok" from run 1.
const FLAKY = `
id: cli-flaky
tasks:
  - id: ok
    image: busybox:latest
    script: 'echo "ok in run $GOFER_RUN_ID"'
  - id: flaky
    image: busybox:latest
    script: 'if [ "$GOFER_RUN_ID" = 1 ]; then echo failing; exit 3; fi; echo fixed'
`;

const LONG = `
id: cli-long
tasks:
  - id: sleeper
    image: busybox:latest
    script: 'echo sleeping; sleep 300'
`;

const INVALID = `
id: cli-invalid
tasks:
  - id: a
    command: [sh, -c, 'true']
  - id: b
    image: busybox:latest
    depends_on: { buidl: success }
`;

/** A task that prints a line, then blocks until the test opens the gate (containers share the host network). */
const gated = (port: number) => `
id: cli-gated
tasks:
  - id: ticker
    image: busybox:latest
    script: 'echo "tick 1"; until wget -q -O /dev/null http://127.0.0.1:${port}/ 2>/dev/null; do sleep 0.2; done; echo "tick 2"'
`;

describe('the gofer CLI against a real Gofer', () => {
  let cluster: TestCluster;
  let api: GoferProcess;
  let dir: string;
  let gate: Server;
  let gatePort: number;
  let gateOpen = false;

  /** Starts the built CLI with GOFER_HOST pointing at the cluster (unless `env` overrides it). */
  function startGofer(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}): RunningCli {
    const child = spawn(process.execPath, [GOFER_BIN, ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', GOFER_HOST: api.grpcAddr, GOFER_TOKEN: cluster.token, ...options.env },
      stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    if (options.stdin !== undefined) child.stdin!.end(options.stdin);
    const done = new Promise<CliResult>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, out, err }));
    });
    return { child, out: () => out, err: () => err, done };
  }

  const gofer = (args: string[], options: { stdin?: string; env?: Record<string, string> } = {}) =>
    startGofer(args, options).done;

  /** Runs a command with `--output json`; it must succeed silently on stderr. */
  async function goferJson<T = any>(args: string[]): Promise<T> {
    const { code, out, err } = await gofer([...args, '--output', 'json']);
    expect({ args, code, err }).toEqual({ args, code: 0, err: '' });
    return JSON.parse(out) as T;
  }

  /** Polls `run get` (through the CLI) until the run is complete. */
  const waitForRunComplete = (pipeline: string, run: number) =>
    waitFor(`run ${run} of ${pipeline} to complete`, async () => {
      const json = await goferJson(['run', 'get', pipeline, String(run)]);
      return json.state === 'complete' ? json : undefined;
    });

  /** Polls `taskrun get` (through the CLI) until the task run is in `state`. */
  const waitForTaskState = (pipeline: string, run: number, task: string, state: string) =>
    waitFor(`task ${task} of run ${run} of ${pipeline} to be ${state}`, async () => {
      const json = await goferJson(['taskrun', 'get', pipeline, String(run), task]);
      return json.state === state ? json : undefined;
    });

  beforeAll(async () => {
    if (!existsSync(GOFER_BIN)) throw new Error(`${GOFER_BIN} is missing: run npm run build first`);
    dir = await mkdtemp(join(tmpdir(), 'gofer-cli-e2e-'));
    gatePort = await freePort();
    gate = createServer((_req, res) => res.writeHead(gateOpen ? 200 : 503).end());
    await new Promise<void>((resolve) => gate.listen(gatePort, '127.0.0.1', resolve));
    await writeFile(join(dir, 'hello.yaml'), HELLO);
    await writeFile(join(dir, 'flaky.yaml'), FLAKY);
    await writeFile(join(dir, 'long.yaml'), LONG);
    await writeFile(join(dir, 'invalid.yaml'), INVALID);
    await writeFile(join(dir, 'gated.yaml'), gated(gatePort));
    cluster = await TestCluster.create('cli_e2e');
    api = await cluster.start('api,worker');
  });

  afterAll(async () => {
    await cluster?.destroy();
    gate?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('pipeline run --help documents --wait', async () => {
    const { code, out, err } = await gofer(['pipeline', 'run', '--help']);
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out).toMatch(/^Usage: gofer pipeline run \[options\] <ID>/);
    expect(out).toMatch(/--wait/);
    expect(out).not.toMatch(/default: \{\}/);
  });

  it.each([
    ['an unknown command', ['bogus'], /^error: unknown command 'bogus'/],
    ['an unknown subcommand', ['pipeline', 'launch', 'x'], /^error: unknown command 'launch'/],
    ['a missing argument', ['pipeline', 'get'], /^error: missing required argument 'ID'/],
    ['a missing second argument', ['run', 'get', 'cli-hello'], /^error: missing required argument 'RUN'/],
    ['a run id that is not a number', ['run', 'get', 'cli-hello', 'abc'], /^error: .*'abc'.*positive integer/],
    ['a bad --output', ['pipeline', 'list', '--output', 'yaml'], /^error: .*'yaml' is invalid.*plain, json/],
    ['a -v without =', ['pipeline', 'run', 'cli-hello', '-v', 'WHO'], /^error: .*expected KEY=VALUE/],
    ['an unknown option', ['pipeline', 'list', '--frobnicate'], /^error: unknown option '--frobnicate'/],
  ])('exits 2 with one line on stderr for %s', async (_what, args, message) => {
    const { code, out, err } = await gofer(args);
    expect({ code, out }).toEqual({ code: 2, out: '' });
    expect(err).toMatch(message);
    expect(err.trimEnd().split('\n')).toHaveLength(1);
  });

  it('exits 2 on a bad GOFER_OUTPUT', async () => {
    const { code, out, err } = await gofer(['pipeline', 'list'], { env: { GOFER_OUTPUT: 'xml' } });
    expect({ code, out, err }).toEqual({ code: 2, out: '', err: 'error: GOFER_OUTPUT must be "plain" or "json", not "xml"\n' });
  });

  it('says it cannot reach Gofer, and exits 1, when nothing listens at --host or GOFER_HOST', async () => {
    const unreachable = { code: 1, out: '', err: `cannot reach Gofer at ${DEAD_HOST}: is the service running?\n` };
    // --host wins over a working GOFER_HOST.
    expect(await gofer(['--host', DEAD_HOST, 'pipeline', 'list'])).toEqual(unreachable);
    expect(await gofer(['pipeline', 'run', 'cli-hello', '--wait'], { env: { GOFER_HOST: DEAD_HOST } })).toEqual(unreachable);
  });

  it('pipeline apply FILE creates version 1; apply - (stdin) makes version 2', async () => {
    const first = await gofer(['pipeline', 'apply', 'hello.yaml']);
    expect({ code: first.code, err: first.err }).toEqual({ code: 0, err: '' });
    expect(first.out).toMatch(/cli-hello.*version 1/);
    expect((await goferJson(['pipeline', 'get', 'cli-hello'])).latest_config_version).toBe(1);

    const second = await gofer(['pipeline', 'apply', '-'], { stdin: HELLO });
    expect({ code: second.code, err: second.err }).toEqual({ code: 0, err: '' });
    expect(second.out).toMatch(/cli-hello.*version 2/);

    const pipeline = await goferJson(['pipeline', 'get', 'cli-hello']);
    expect(pipeline).toStrictEqual({
      namespace: 'default',
      id: 'cli-hello',
      name: 'CLI hello',
      description: '',
      state: 'enabled',
      parallelism: 0,
      latest_config_version: 2,
      created: expect.stringMatching(ISO),
      updated: expect.stringMatching(ISO),
    });
    // A second apply of the same file by path also works (format from the extension).
    const third = await gofer(['--host', api.grpcAddr, 'pipeline', 'apply', join(dir, 'hello.yaml')], { env: { GOFER_HOST: DEAD_HOST } });
    expect(third.code).toBe(0);
    expect((await goferJson(['pipeline', 'get', 'cli-hello'])).latest_config_version).toBe(3);
  });

  it('pipeline get --config prints a version\'s config exactly as applied', async () => {
    const latest = await gofer(['pipeline', 'get', 'cli-hello', '--config']);
    expect(latest).toEqual({ code: 0, out: HELLO.endsWith('\n') ? HELLO : `${HELLO}\n`, err: '' });
    expect((await gofer(['pipeline', 'get', 'cli-hello', '--config', '1'])).out).toBe(latest.out);
    const json = await goferJson(['pipeline', 'get', 'cli-hello', '--config', '2']);
    expect(json).toStrictEqual({ version: 2, format: expect.any(String), created: expect.stringMatching(ISO), config: HELLO });
    const missing = await gofer(['pipeline', 'get', 'cli-hello', '--config', '99']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^pipeline cli-hello has no config version 99 \(versions 1 to 3/);
  });

  it('pipeline apply of an invalid config prints every error, one per line, and exits 1', async () => {
    const { code, out, err } = await gofer(['pipeline', 'apply', 'invalid.yaml']);
    expect({ code, out }).toEqual({ code: 1, out: '' });
    expect(err.trimEnd().split('\n').sort()).toEqual(['tasks[0].image: required', 'tasks[1].depends_on.buidl: unknown task "buidl"']);
    // Nothing was created.
    const missing = await gofer(['pipeline', 'get', 'cli-invalid']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^pipeline "cli-invalid" not found.*\n$/);
  });

  it('pipeline apply of a missing file exits 1 saying so', async () => {
    expect(await gofer(['pipeline', 'apply', 'nope.yaml'])).toEqual({ code: 1, out: '', err: 'cannot read nope.yaml: no such file\n' });
  });

  it('pipeline list --output json prints an array of pipelines', async () => {
    await gofer(['pipeline', 'apply', 'flaky.yaml']);
    const list = await goferJson<any[]>(['pipeline', 'list']);
    expect(Array.isArray(list)).toBe(true);
    expect(list.map((p) => p.id).sort()).toEqual(['cli-flaky', 'cli-hello']);
    for (const p of list) {
      expect(Object.keys(p).sort()).toEqual(
        ['created', 'description', 'id', 'latest_config_version', 'name', 'namespace', 'parallelism', 'state', 'updated'],
      );
    }
    expect(list.find((p) => p.id === 'cli-flaky')).toMatchObject({ state: 'enabled', latest_config_version: 1 });
  });

  it('pipeline run -v KEY=VALUE --wait exits 0 with a summary; the variable reaches the container', async () => {
    const { code, out, err } = await gofer(['pipeline', 'run', 'cli-hello', '-v', 'WHO=there', '--wait']);
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out).toMatch(/\brun 1\b/);
    expect(out).toMatch(/successful/);
    expect(out).toMatch(/^greet\b.*successful/m);
    expect(out).toMatch(/^after\b.*successful/m);
    expect(out).toMatch(/^complain\b.*successful/m);

    // The container's output exactly.
    expect(await gofer(['taskrun', 'logs', 'cli-hello', '1', 'greet'])).toEqual({ code: 0, out: 'hello there\nno newline at the end', err: '' });
    expect(await gofer(['taskrun', 'logs', 'cli-hello', '1', 'greet', '--tail', '6'])).toEqual({ code: 0, out: 'he end', err: '' });
    expect((await gofer(['taskrun', 'logs', 'cli-hello', '1', 'greet', '--tail', '17M'])).err).toContain('at most 16M');
    // A finished task's archived log keeps stdout and stderr apart.
    const complain = await gofer(['taskrun', 'logs', 'cli-hello', '1', 'complain']);
    expect(complain).toEqual({ code: 0, out: '', err: 'to stderr\n' }); // the archive keeps streams apart
    expect(await gofer(['taskrun', 'logs', 'cli-hello', '1', 'after'])).toEqual({ code: 0, out: 'after greet in run 1\n', err: '' });
  });

  it('run list|get --output json print the docs/design.md run shape', async () => {
    const expected = {
      namespace: 'default',
      pipeline: 'cli-hello',
      id: 1,
      state: 'complete',
      status: 'successful',
      status_reason: null,
      started: expect.stringMatching(ISO),
      ended: expect.stringMatching(ISO),
      variables: { WHO: 'there' },
      config_version: 3,
      started_by: expect.stringMatching(/^token\/tok_[0-9a-f]{16}$/),
      notifications: [],
      waiting_reason: null,
    };
    const run = await goferJson(['run', 'get', 'cli-hello', '1']);
    expect(run).toStrictEqual(expected);
    expect(Date.parse(run.ended)).toBeGreaterThanOrEqual(Date.parse(run.started));
    expect(await goferJson(['run', 'list', 'cli-hello'])).toStrictEqual([expected]);
    // Filters narrow the list on the server; a word that is not a status is a usage error naming it.
    expect(await goferJson(['run', 'list', 'cli-hello', '--status', 'successful', '--state', 'complete', '--started-by', 'token/'])).toStrictEqual([expected]);
    expect(await goferJson(['run', 'list', 'cli-hello', '--status', 'failed,cancelled'])).toStrictEqual([]);
    expect(await goferJson(['run', 'list', 'cli-hello', '--started-by', 'trigger/'])).toStrictEqual([]);
    const wrong = await gofer(['run', 'list', 'cli-hello', '--status', 'broken']);
    expect(wrong.code).toBe(2);
    expect(wrong.err).toContain('"broken" is not a status: use successful, failed, cancelled');
  });

  it('taskrun list|get --output json print the run shape plus task, attempt, exit_code, image, container, worker', async () => {
    const greet = {
      namespace: 'default',
      pipeline: 'cli-hello',
      id: 1,
      run: 1,
      task: 'greet',
      attempt: 1,
      state: 'complete',
      status: 'successful',
      status_reason: null,
      started: expect.stringMatching(ISO),
      ended: expect.stringMatching(ISO),
      variables: { WHO: 'there' },
      config_version: 3,
      exit_code: 0,
      image: 'busybox:latest',
      container: expect.stringMatching(/^[0-9a-f]{64}$/),
      worker: expect.any(String),
      waiting_reason: null,
    };
    expect(await goferJson(['taskrun', 'get', 'cli-hello', '1', 'greet'])).toStrictEqual(greet);
    const list = await goferJson<any[]>(['taskrun', 'list', 'cli-hello', '1']);
    expect([...list].sort((a, b) => a.task.localeCompare(b.task))).toStrictEqual([
      { ...greet, task: 'after' },
      { ...greet, task: 'complain' },
      greet,
    ]);
  });

  it('GOFER_OUTPUT=json selects JSON like --output json', async () => {
    const { code, out } = await gofer(['run', 'get', 'cli-hello', '1'], { env: { GOFER_OUTPUT: 'json' } });
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ pipeline: 'cli-hello', id: 1, status: 'successful' });
  });

  it('pipeline run --wait exits 1 for a failing run, and run retry re-runs only what failed', async () => {
    const failed = await gofer(['pipeline', 'run', 'cli-flaky', '--wait']);
    expect(failed.code).toBe(1);
    expect(failed.out).toMatch(/failed/);
    expect(failed.out).toMatch(/^flaky\b.*failed/m);
    // One line that says where to look.
    expect(failed.err).toMatch(/^run 1 failed: .*gofer taskrun logs cli-flaky 1 flaky\n$/);

    expect(await goferJson(['run', 'get', 'cli-flaky', '1'])).toMatchObject({
      status: 'failed',
      status_reason: { reason: 'abnormal_exit', description: expect.stringContaining('exited with code 3') },
    });
    expect(await goferJson(['taskrun', 'get', 'cli-flaky', '1', 'flaky'])).toMatchObject({
      state: 'complete',
      status: 'failed',
      status_reason: { reason: 'abnormal_exit', description: 'exited with code 3' },
      exit_code: 3,
    });
    expect(await gofer(['taskrun', 'logs', 'cli-flaky', '1', 'flaky'])).toEqual({ code: 0, out: 'failing\n', err: '' });

    const retry = await goferJson(['run', 'retry', 'cli-flaky', '1']);
    expect(retry).toMatchObject({ pipeline: 'cli-flaky', id: 2 });
    const done = await waitForRunComplete('cli-flaky', 2);
    expect(done).toMatchObject({ status: 'successful', status_reason: null });
    expect(await gofer(['taskrun', 'logs', 'cli-flaky', '2', 'flaky'])).toEqual({ code: 0, out: 'fixed\n', err: '' });
    // "ok" succeeded in run 1: the retry re-used it rather than running it again.
    expect(await gofer(['taskrun', 'logs', 'cli-flaky', '2', 'ok'])).toEqual({ code: 0, out: 'ok in run 1\n', err: '' });
  });

  it('taskrun logs --follow streams a running task until it ends', async () => {
    expect((await gofer(['pipeline', 'apply', 'gated.yaml'])).code).toBe(0);
    const started = await goferJson(['pipeline', 'run', 'cli-gated']);
    expect(started).toMatchObject({ pipeline: 'cli-gated', id: 1 });
    await waitForTaskState('cli-gated', 1, 'ticker', 'running');

    const follow = startGofer(['taskrun', 'logs', 'cli-gated', '1', 'ticker', '--follow']);
    await waitFor('the first line through --follow', async () => (follow.out() === 'tick 1\n' ? true : undefined));
    // The task cannot end before the gate opens, so this output was streamed live.
    expect(follow.child.exitCode).toBeNull();
    expect((await goferJson(['taskrun', 'get', 'cli-gated', '1', 'ticker'])).state).toBe('running');

    gateOpen = true;
    expect(await follow.done).toEqual({ code: 0, out: 'tick 1\ntick 2\n', err: '' });
    expect(await waitForRunComplete('cli-gated', 1)).toMatchObject({ status: 'successful' });
  });

  it('run cancel stops a long task and the run ends cancelled', async () => {
    expect((await gofer(['pipeline', 'apply', 'long.yaml'])).code).toBe(0);
    const { id } = await goferJson(['pipeline', 'run', 'cli-long']);
    await waitForTaskState('cli-long', id, 'sleeper', 'running');
    // `running` is set when a worker claims the attempt, before its container starts: wait for the
    // container's first line, so the cancel stops a task that is really running.
    await waitFor('the sleeper to start', async () =>
      (await gofer(['taskrun', 'logs', 'cli-long', String(id), 'sleeper'])).out === 'sleeping\n' ? true : undefined);

    const cancel = await gofer(['run', 'cancel', 'cli-long', String(id)]);
    expect({ code: cancel.code, err: cancel.err }).toEqual({ code: 0, err: '' });
    expect(await waitForRunComplete('cli-long', id)).toMatchObject({
      state: 'complete',
      status: 'cancelled',
      status_reason: { reason: 'user_cancelled' },
    });
    expect(await goferJson(['taskrun', 'get', 'cli-long', String(id), 'sleeper'])).toMatchObject({
      state: 'complete',
      status: 'cancelled',
      status_reason: { reason: 'cancelled' },
    });
    const logs = await gofer(['taskrun', 'logs', 'cli-long', String(id), 'sleeper']);
    expect({ code: logs.code, output: logs.out + logs.err }).toEqual({ code: 0, output: 'sleeping\n' });
  });

  it('pipeline delete is refused while runs are in flight; run cancel-all; then delete works', async () => {
    const a = (await goferJson(['pipeline', 'run', 'cli-long'])).id as number;
    const b = (await goferJson(['pipeline', 'run', 'cli-long'])).id as number;

    const refused = await gofer(['pipeline', 'delete', 'cli-long']);
    expect({ code: refused.code, out: refused.out }).toEqual({ code: 1, out: '' });
    expect(refused.err).toMatch(/^pipeline "cli-long" has .*unfinished run.*gofer run cancel-all cli-long\n$/);
    expect((await goferJson(['pipeline', 'get', 'cli-long'])).id).toBe('cli-long');

    const cancelled = await goferJson(['run', 'cancel-all', 'cli-long']);
    expect(cancelled.cancelled_runs.sort()).toEqual([a, b].sort());
    for (const id of [a, b]) expect(await waitForRunComplete('cli-long', id)).toMatchObject({ status: 'cancelled' });

    const deleted = await gofer(['pipeline', 'delete', 'cli-long']);
    expect({ code: deleted.code, err: deleted.err }).toEqual({ code: 0, err: '' });
    const gone = await gofer(['pipeline', 'get', 'cli-long']);
    expect({ code: gone.code, out: gone.out }).toEqual({ code: 1, out: '' });
    expect(gone.err).toMatch(/^pipeline "cli-long" not found.*\n$/);
  });

  it('pipeline disable stops runs (exit 1, says how to enable); pipeline enable lets them start again', async () => {
    expect((await gofer(['pipeline', 'disable', 'cli-hello'])).code).toBe(0);
    expect((await goferJson(['pipeline', 'get', 'cli-hello'])).state).toBe('disabled');

    const refused = await gofer(['pipeline', 'run', 'cli-hello', '--wait']);
    expect({ code: refused.code, out: refused.out }).toEqual({ code: 1, out: '' });
    expect(refused.err).toMatch(/disabled/);
    expect(refused.err).toMatch(/gofer pipeline enable cli-hello/);
    expect(refused.err.trimEnd().split('\n')).toHaveLength(1);

    expect((await gofer(['pipeline', 'enable', 'cli-hello'])).code).toBe(0);
    expect((await goferJson(['pipeline', 'get', 'cli-hello'])).state).toBe('enabled');
    const run = await gofer(['pipeline', 'run', 'cli-hello', '-v', 'WHO=again', '--wait', '--output', 'json']);
    expect({ code: run.code, err: run.err }).toEqual({ code: 0, err: '' });
    expect(JSON.parse(run.out)).toMatchObject({ pipeline: 'cli-hello', status: 'successful', variables: { WHO: 'again' } });
  });

  it('a NOT_FOUND from the API exits 1 with the server message', async () => {
    const { code, out, err } = await gofer(['run', 'get', 'cli-hello', '99']);
    expect({ code, out }).toEqual({ code: 1, out: '' });
    expect(err).toMatch(/^run 99 of pipeline "cli-hello" not found.*\n$/);
  });
});
