// The `gofer` CLI end to end against a real gRPC server (the stub), in-process for most commands and
// as a spawned process (from source, see ts-register.mjs) for exit codes and stderr.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConfigFormat, OBJECT_CHUNK_BYTES, TokenKind } from '@gofer/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../apps/gofer/src/cli/context.js';
import { runCli } from '../../apps/gofer/src/cli/program.js';
import { deadAddress, FORBIDDEN_KEY, startStubGofer, STUB_EVENTS, type StubGofer } from './stub-gofer.server.js';

const ROOT = new URL('../../', import.meta.url);

/** Runs the CLI in-process with captured stdout/stderr (stderr a terminal when `tty`). */
async function gofer(args: string[], env: Record<string, string>, stdin: string | Buffer = '', tty = false) {
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), tty ? { isTTY: true, columns: 80 } : {});
  const chunks: Buffer[] = [];
  let err = '';
  stdout.on('data', (d: Buffer) => chunks.push(d));
  stderr.on('data', (d) => (err += d));
  const input = new PassThrough();
  input.end(stdin);
  const io: CliIo = { stdout, stderr, stdin: input, env };
  const code = await runCli(args, io);
  const bytes = Buffer.concat(chunks);
  return { code, out: bytes.toString('utf8'), bytes, err };
}

const FROM_SOURCE = ['--import', './test/cli/ts-register.mjs', 'apps/gofer/src/main.ts'];
const BUILT = 'apps/gofer/dist/main.js';

/**
 * Runs the CLI as its own process: from source by default (no build needed), or the built program
 * (`npm run build`, which `npm test` runs first) when `built` is set.
 */
function goferProcess(args: string[], env: Record<string, string> = {}, built = false, stdin?: string) {
  if (built && !existsSync(new URL(BUILT, ROOT))) throw new Error(`${BUILT} is missing: run npm run build first`);
  return new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [...(built ? [BUILT] : FROM_SOURCE), ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, ...env },
      stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (stdin !== undefined) child.stdin!.end(stdin);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
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

  it('pipeline run --wait names the reason itself when a task failed before its container ran (no logs to read)', async () => {
    const { code, err } = await gofer(['pipeline', 'run', 'unpullable', '--wait'], env);
    expect(code).toBe(1);
    expect(err).toMatch(/^run \d+ failed: task greet could not start \(scheduler_error: image "127\.0\.0\.1:1\/nope:latest" could not be pulled: connection refused\)\n$/);
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

  it.each(['drops-new', 'drops-old'])('taskrun logs resumes a stream lost with its replica (%s) without gaps or repeats', async (task) => {
    const { code, out } = await gofer(['taskrun', 'logs', 'hello', '1', task], env);
    expect({ code, out }).toEqual({ code: 0, out: 'one\ntwo\nthree\n' });
  });

  it('taskrun logs --attempt N asks for that attempt; a bad attempt is a usage error', async () => {
    const { code, out } = await gofer(['taskrun', 'logs', 'hello', '1', 'greet', '--attempt', '2'], env);
    expect({ code, out }).toEqual({ code: 0, out: 'attempt 2\nhello world\n' });
    const bad = await gofer(['taskrun', 'logs', 'hello', '1', 'greet', '--attempt', '0'], env);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/an attempt is a positive integer/);
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

/** Writes `size` random bytes to `path` a chunk at a time; returns their SHA-256. */
async function randomFile(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  async function* content() {
    for (let left = size; left > 0; left -= 1_000_000) {
      const chunk = randomBytes(Math.min(left, 1_000_000));
      hash.update(chunk);
      yield chunk;
    }
  }
  await pipeline(content, createWriteStream(path));
  return hash.digest('hex');
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

describe('gofer CLI: tokens and namespaces', () => {
  let stub: StubGofer;
  let host: Record<string, string>;
  let management: string;

  beforeAll(async () => {
    stub = await startStubGofer();
    host = { GOFER_HOST: stub.address };
  });
  afterAll(async () => stub?.close());

  it('service token bootstrap prints only the secret, calls without a token, and works once', async () => {
    const before = stub.authorizations.length;
    // A stale GOFER_TOKEN must not get in the way of bootstrapping.
    const first = await gofer(['service', 'token', 'bootstrap'], { ...host, GOFER_TOKEN: 'stale' });
    expect({ code: first.code, err: first.err }).toEqual({ code: 0, err: '' });
    expect(first.out).toMatch(/^secret-1-x+\n$/);
    expect(stub.authorizations.slice(before)).toEqual([undefined]);
    management = first.out.trim();

    const again = await gofer(['service', 'token', 'bootstrap'], host);
    expect({ code: again.code, out: again.out, err: again.err }).toEqual({
      code: 1,
      out: '',
      err: 'a token was already bootstrapped: ask its holder for a token\n',
    });
  });

  it('service token bootstrap --output json prints {token, secret}; a terminal also gets the warning', async () => {
    const fresh = await startStubGofer();
    try {
      const { code, out, err } = await gofer(['service', 'token', 'bootstrap', '-o', 'json'], { GOFER_HOST: fresh.address }, '', true);
      expect(code).toBe(0);
      expect(JSON.parse(out)).toStrictEqual({
        token: {
          id: 'tok-1',
          kind: 'management',
          namespaces: [],
          metadata: { bootstrap: 'true' },
          created: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
          expires: null,
          disabled: false,
        },
        secret: expect.stringMatching(/^secret-1-/),
      });
      expect(err).toBe('');
      const plain = await startStubGofer();
      try {
        const shown = await gofer(['service', 'token', 'bootstrap'], { GOFER_HOST: plain.address }, '', true);
        expect(shown.err).toBe('issued management token tok-1; store the secret now, it is never shown again (use it with --token or GOFER_TOKEN)\n');
        expect(shown.err).not.toContain('secret-1');
      } finally {
        await plain.close();
      }
    } finally {
      await fresh.close();
    }
  });

  it('says where to get a token when a call is not authenticated', async () => {
    const { code, out, err } = await gofer(['token', 'whoami'], host);
    expect({ code, out, err }).toEqual({
      code: 1,
      out: '',
      err: 'missing or unknown token: set GOFER_TOKEN or --token; the first token comes from: gofer service token bootstrap\n',
    });
  });

  it('token whoami shows the token the CLI runs with', async () => {
    const env = { ...host, GOFER_TOKEN: management };
    const plain = await gofer(['token', 'whoami'], env);
    expect(plain.code).toBe(0);
    expect(plain.out).toMatch(/^token tok-1\n {2}kind +management\n {2}status +active\n {2}namespaces +all\n {2}expires +never\n/);
    const json = await gofer(['token', 'whoami', '-o', 'json'], env);
    expect(JSON.parse(json.out)).toMatchObject({ id: 'tok-1', kind: 'management', expires: null, disabled: false });
  });

  it('token create sends kind, namespaces, labels and lifetime, and prints the secret', async () => {
    const env = { ...host, GOFER_TOKEN: management };
    const args = ['token', 'create', '--namespaces', 'team-a,/staging-.*/', '--metadata', 'owner=ci', '--metadata', 'purpose=a=b', '--expires', '30d'];
    const { code, out, err } = await gofer(args, env);
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out).toMatch(/^secret-2-x+\n$/);
    expect(stub.createdTokens.at(-1)).toEqual({
      kind: TokenKind.TOKEN_KIND_CLIENT,
      namespaces: ['team-a', '/staging-.*/'],
      metadata: { owner: 'ci', purpose: 'a=b' },
      expiresInSeconds: 30 * 86_400,
    });
  });

  it('token create defaults to a client token for --namespace that never expires; --output json has the token', async () => {
    const { code, out } = await gofer(['token', 'create', '-n', 'team-b', '-o', 'json'], { ...host, GOFER_TOKEN: management });
    expect(code).toBe(0);
    const json = JSON.parse(out);
    expect(json).toMatchObject({ token: { id: 'tok-3', kind: 'client', namespaces: ['team-b'], expires: null }, secret: expect.any(String) });
    expect(stub.createdTokens.at(-1)).toEqual({ kind: TokenKind.TOKEN_KIND_CLIENT, namespaces: ['team-b'], metadata: {}, expiresInSeconds: 0 });

    const management2 = await gofer(['token', 'create', '--kind', 'management', '-o', 'json'], { ...host, GOFER_TOKEN: management });
    expect(JSON.parse(management2.out).token).toMatchObject({ kind: 'management', namespaces: [] });
  });

  it("prints the server's PERMISSION_DENIED reason with how to check the token", async () => {
    const client = (await gofer(['token', 'create', '-n', 'team-c'], { ...host, GOFER_TOKEN: management })).out.trim();
    const { code, err } = await gofer(['token', 'create'], { ...host, GOFER_TOKEN: client });
    expect({ code, err }).toEqual({
      code: 1,
      err: 'creating tokens needs a management token: see what your token may do with gofer token whoami (switch with --token, --namespace)\n',
    });
  });

  it('token list, disable, enable, get and delete', async () => {
    const env = { ...host, GOFER_TOKEN: management };
    const list = await gofer(['token', 'list'], env);
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/^ID +KIND +STATUS +NAMESPACES +EXPIRES +CREATED +METADATA$/m);
    expect(list.out).toMatch(/^tok-2 +client +active +team-a,\/staging-\.\*\/ +in (29|30)d +(just now|\d+s ago) +owner=ci purpose=a=b$/m);

    const disabled = await gofer(['token', 'disable', 'tok-2', '-o', 'json'], env);
    expect(JSON.parse(disabled.out)).toMatchObject({ id: 'tok-2', disabled: true });
    expect((await gofer(['token', 'get', 'tok-2'], env)).out).toMatch(/^ {2}status +disabled$/m);
    expect(await gofer(['token', 'enable', 'tok-2'], env)).toMatchObject({ code: 0, out: 'enabled token tok-2\n' });
    expect(await gofer(['token', 'delete', 'tok-2', '-o', 'json'], env)).toMatchObject({ code: 0, out: '{\n  "id": "tok-2",\n  "deleted": true\n}\n' });
    expect(await gofer(['token', 'get', 'tok-2'], env)).toMatchObject({ code: 1, err: 'token "tok-2" not found\n' });
  });

  it('namespace create, list, get and delete (--force when it holds pipelines)', async () => {
    const env = { ...host, GOFER_TOKEN: management };
    const created = await gofer(['namespace', 'create', 'team-a', '--name', 'Team A', '--description', "Team A's pipelines"], env);
    expect(created).toMatchObject({ code: 0, out: 'created namespace team-a\n', err: '' });
    expect(stub.createdNamespaces.at(-1)).toEqual({ id: 'team-a', name: 'Team A', description: "Team A's pipelines" });
    expect(await gofer(['namespace', 'create', 'team-a'], env)).toMatchObject({ code: 1, err: 'namespace "team-a" already exists\n' });

    const list = await gofer(['namespace', 'list', '-o', 'json'], env);
    expect(JSON.parse(list.out).map((n: { id: string }) => n.id)).toEqual(['default', 'team-a']);
    expect((await gofer(['namespace', 'get', 'team-a'], env)).out).toMatch(/^namespace team-a \(Team A\)\n {2}Team A's pipelines\n {2}created /);

    const refused = await gofer(['namespace', 'delete', 'default'], env);
    expect(refused).toMatchObject({ code: 1, err: 'namespace "default" holds 2 pipelines: delete them first, or pass --force\n' });
    expect(await gofer(['namespace', 'delete', 'default', '--force'], env)).toMatchObject({ code: 0, out: 'deleted namespace default\n' });
    expect(stub.deletedNamespaces.at(-1)).toEqual({ id: 'default', force: true });
  });
});

describe('gofer CLI: objects', () => {
  let stub: StubGofer;
  let env: Record<string, string>;
  let dir: string;

  beforeAll(async () => {
    stub = await startStubGofer();
    env = { GOFER_HOST: stub.address, GOFER_TOKEN: 'cli-token' };
    dir = await mkdtemp(join(tmpdir(), 'gofer-cli-objects-'));
  });
  afterAll(async () => {
    await stub?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('streams a ~20 MB file up and back down intact, in chunks of at most 1 MiB', async () => {
    const source = join(dir, 'big.bin');
    const size = 20 * 1_000_000 + 12_345;
    const digest = await randomFile(source, size);

    const put = await gofer(['pipeline', 'object', 'put', 'hello', 'big.bin', source], env);
    expect({ code: put.code, err: put.err }).toEqual({ code: 0, err: '' });
    expect(put.out).toBe(`stored big.bin in pipeline hello (19.1 MiB, sha256 ${digest.slice(0, 12)})\n`);
    const upload = stub.uploads.at(-1)!;
    expect(upload).toMatchObject({ header: { namespaceId: 'default', pipelineId: 'hello', key: 'big.bin' }, bytes: size });
    expect(upload.largestChunk).toBeLessThanOrEqual(OBJECT_CHUNK_BYTES);
    expect(stub.objects.get('default/hello/big.bin')!.info.sha256).toBe(digest);

    const target = join(dir, 'big.copy');
    const get = await gofer(['pipeline', 'object', 'get', 'hello', 'big.bin', target], env);
    expect(get).toMatchObject({ code: 0, out: `wrote big.bin (19.1 MiB) to ${target}\n`, err: '' });
    expect(await sha256File(target)).toBe(digest);
    // No partial file is left next to it.
    expect((await readdir(dir)).sort()).toEqual(['big.bin', 'big.copy']);

    const toStdout = await gofer(['pipeline', 'object', 'get', 'hello', 'big.bin'], env);
    expect({ code: toStdout.code, err: toStdout.err, size: toStdout.bytes.length }).toEqual({ code: 0, err: '', size });
    expect(sha256(toStdout.bytes)).toBe(digest);
  });

  it('put - reads stdin; get into a directory names the file after the key; --output json shows the info', async () => {
    const put = await gofer(['run', 'object', 'put', 'hello', '3', 'notes.txt', '-', '-o', 'json'], env, 'line 1\nline 2\n');
    expect(put.code).toBe(0);
    expect(JSON.parse(put.out)).toStrictEqual({
      key: 'notes.txt',
      size: 14,
      sha256: sha256(Buffer.from('line 1\nline 2\n')),
      created: expect.stringMatching(/^2025-/),
    });
    expect(stub.uploads.at(-1)!.header).toEqual({ namespaceId: 'default', pipelineId: 'hello', runId: 3, key: 'notes.txt' });

    const out = join(dir, 'out');
    await mkdir(out);
    const get = await gofer(['run', 'object', 'get', 'hello', '3', 'notes.txt', out, '-o', 'json'], env);
    expect(JSON.parse(get.out)).toMatchObject({ key: 'notes.txt', size: 14, file: join(out, 'notes.txt') });
    expect(await readFile(join(out, 'notes.txt'), 'utf8')).toBe('line 1\nline 2\n');

    expect(await gofer(['run', 'object', 'get', 'hello', '3', 'notes.txt', '-'], env)).toMatchObject({ code: 0, out: 'line 1\nline 2\n', err: '' });
  });

  it('stores an empty object, lists newest first and deletes', async () => {
    expect((await gofer(['pipeline', 'object', 'put', 'hello', 'empty'], env, '')).code).toBe(0);
    const list = await gofer(['pipeline', 'object', 'list', 'hello'], env);
    expect(list.out.split('\n').slice(0, 3)).toEqual([
      expect.stringMatching(/^KEY +SIZE +SHA256 +CREATED$/),
      expect.stringMatching(/^empty +0 B +e3b0c44298fc +/),
      expect.stringMatching(/^big\.bin +19\.1 MiB +/),
    ]);
    const json = await gofer(['pipeline', 'object', 'list', 'hello', '-o', 'json'], env);
    expect(JSON.parse(json.out).map((o: { key: string }) => o.key)).toEqual(['empty', 'big.bin']);
    expect(await gofer(['pipeline', 'object', 'delete', 'hello', 'empty'], env)).toMatchObject({ code: 0, out: 'deleted empty from pipeline hello\n' });
    expect((await gofer(['run', 'object', 'list', 'hello', '4'], env)).out).toBe(
      'no objects in run 4 of hello: store one with gofer run object put hello 4 KEY FILE\n',
    );
  });

  it('shows the objects evicted by a put', async () => {
    const { out } = await gofer(['pipeline', 'object', 'put', 'hello', 'evicts', '-o', 'json'], env, 'x');
    expect(JSON.parse(out)).toMatchObject({ key: 'evicts', size: 1, evicted: ['oldest'] });
  });

  it('fails with one line, and leaves no file, when the object does not exist', async () => {
    const target = join(dir, 'missing.bin');
    const { code, out, err } = await gofer(['pipeline', 'object', 'get', 'hello', 'missing', target], env);
    expect({ code, out, err }).toEqual({ code: 1, out: '', err: 'object "missing" not found\n' });
    expect(await stat(target).catch(() => undefined)).toBeUndefined();
    expect((await readdir(dir)).filter((f) => f.includes('partial'))).toEqual([]);
  });

  it("prints the server's reason when it refuses an upload, and names a missing FILE", async () => {
    const refused = await gofer(['pipeline', 'object', 'put', 'hello', FORBIDDEN_KEY, join(dir, 'big.bin')], { ...env, GOFER_NAMESPACE: 'team-b' });
    expect(refused).toMatchObject({
      code: 1,
      out: '',
      err: 'token may not write objects in namespace "team-b": see what your token may do with gofer token whoami (switch with --token, --namespace)\n',
    });
    const missing = join(dir, 'nope.bin');
    expect(await gofer(['pipeline', 'object', 'put', 'hello', 'x', missing], env)).toMatchObject({
      code: 1,
      err: `cannot read ${missing}: no such file or directory\n`,
    });
  });
});

describe('gofer CLI: secrets and events', () => {
  let stub: StubGofer;
  let env: Record<string, string>;

  beforeAll(async () => {
    stub = await startStubGofer();
    env = { GOFER_HOST: stub.address, GOFER_TOKEN: 'cli-token' };
  });
  afterAll(async () => stub?.close());

  it('secret pipeline put reads the value from stdin without a trailing newline and never prints it', async () => {
    const { code, out, err } = await gofer(['secret', 'pipeline', 'put', 'hello', 'DEPLOY_TOKEN'], env, 's3cret value\n');
    expect({ code, out, err }).toEqual({ code: 0, out: 'stored secret DEPLOY_TOKEN in pipeline hello\n', err: '' });
    expect(stub.pipelineSecretPuts.at(-1)).toEqual({ namespaceId: 'default', pipelineId: 'hello', key: 'DEPLOY_TOKEN', value: 's3cret value' });
  });

  it('secret pipeline put --value, and an empty stdin is a usage error', async () => {
    expect((await gofer(['secret', 'pipeline', 'put', 'hello', 'OTHER', '--value', 'v2'], env)).code).toBe(0);
    expect(stub.pipelineSecretPuts.at(-1)!.value).toBe('v2');
    const before = stub.pipelineSecretPuts.length;
    const empty = await gofer(['secret', 'pipeline', 'put', 'hello', 'EMPTY'], env, '');
    expect(empty).toMatchObject({ code: 2, err: 'error: no secret value: pass --value VALUE, or pipe the value into stdin\n' });
    expect(stub.pipelineSecretPuts.length).toBe(before);
  });

  it('secret pipeline get shows metadata only, the value with --show / --include-value', async () => {
    const meta = await gofer(['secret', 'pipeline', 'get', 'hello', 'DEPLOY_TOKEN'], env);
    expect(meta.code).toBe(0);
    expect(meta.out).toMatch(/^secret DEPLOY_TOKEN of pipeline hello\n {2}created +.*\n {2}updated +.*\n$/);
    expect(meta.out).not.toContain('s3cret');
    expect(await gofer(['secret', 'pipeline', 'get', 'hello', 'DEPLOY_TOKEN', '--show'], env)).toMatchObject({ code: 0, out: 's3cret value\n' });
    const json = await gofer(['secret', 'pipeline', 'get', 'hello', 'DEPLOY_TOKEN', '--include-value', '-o', 'json'], env);
    expect(JSON.parse(json.out)).toMatchObject({ key: 'DEPLOY_TOKEN', value: 's3cret value', namespaces: [] });
    const noValue = await gofer(['secret', 'pipeline', 'get', 'hello', 'DEPLOY_TOKEN', '-o', 'json'], env);
    expect(JSON.parse(noValue.out)).not.toHaveProperty('value');
  });

  it('secret pipeline list and delete', async () => {
    const list = await gofer(['secret', 'pipeline', 'list', 'hello', '-o', 'json'], env);
    expect(JSON.parse(list.out).map((s: { key: string }) => s.key)).toEqual(['DEPLOY_TOKEN', 'OTHER']);
    expect(list.out).not.toContain('s3cret');
    expect(await gofer(['secret', 'pipeline', 'delete', 'hello', 'OTHER'], env)).toMatchObject({ code: 0, out: 'deleted secret OTHER of pipeline hello\n' });
    expect(await gofer(['secret', 'pipeline', 'delete', 'hello', 'OTHER'], env)).toMatchObject({ code: 1, err: 'secret "OTHER" not found\n' });
  });

  it('secret global put sends the namespace list; a new value keeps it; a new secret defaults to --namespace', async () => {
    const first = await gofer(['secret', 'global', 'put', 'REGISTRY_PASS', '--namespaces', 'team-a,/staging-.*/', '--value', 'p1'], env);
    expect(first).toMatchObject({ code: 0, out: 'stored global secret REGISTRY_PASS for namespaces team-a,/staging-.*/\n' });
    expect(stub.globalSecretPuts.at(-1)).toEqual({ key: 'REGISTRY_PASS', value: 'p1', namespaces: ['team-a', '/staging-.*/'] });

    expect((await gofer(['secret', 'global', 'put', 'REGISTRY_PASS'], env, 'p2\n')).code).toBe(0);
    expect(stub.globalSecretPuts.at(-1)).toEqual({ key: 'REGISTRY_PASS', value: 'p2', namespaces: ['team-a', '/staging-.*/'] });

    expect((await gofer(['secret', 'global', 'put', 'NEW_ONE', '-n', 'team-z'], env, 'v')).code).toBe(0);
    expect(stub.globalSecretPuts.at(-1)).toEqual({ key: 'NEW_ONE', value: 'v', namespaces: ['team-z'] });

    const list = await gofer(['secret', 'global', 'list'], env);
    expect(list.out).toMatch(/^REGISTRY_PASS +team-a,\/staging-\.\*\/ +/m);
    const get = await gofer(['secret', 'global', 'get', 'REGISTRY_PASS', '-o', 'json', '--show'], env);
    expect(JSON.parse(get.out)).toMatchObject({ key: 'REGISTRY_PASS', value: 'p2', namespaces: ['team-a', '/staging-.*/'] });
  });

  it('event list prints one line per event; --output json prints JSON lines', async () => {
    const plain = await gofer(['event', 'list'], env);
    expect(plain.code).toBe(0);
    expect(plain.out.trimEnd().split('\n')).toEqual([
      '2025-01-02T03:04:05.000Z  #1  namespace_created  default  name=Default',
      '2025-01-02T03:04:06.000Z  #2  run_started  default/hello run 1  trigger=manual',
      '2025-01-02T03:04:07.000Z  #3  task_run_completed  team-a/hello run 1 task greet  status=successful exit_code=0',
    ]);
    expect(stub.eventRequests.at(-1)).toEqual({ afterId: 0, follow: false, namespaceId: '', skipExisting: false, last: 0 });

    const json = await gofer(['event', 'list', '--after', '1', '--namespace-only', '-n', 'team-a', '-o', 'json'], env);
    expect(stub.eventRequests.at(-1)).toEqual({ afterId: 1, follow: false, namespaceId: 'team-a', skipExisting: false, last: 0 });
    expect(json.out.trimEnd().split('\n').map((line) => JSON.parse(line))).toStrictEqual([
      {
        id: 3,
        kind: 'task_run_completed',
        namespace: 'team-a',
        pipeline: 'hello',
        run: 1,
        task: 'greet',
        details: { status: 'successful', exit_code: 0 },
        emitted: '2025-01-02T03:04:07.000Z',
      },
    ]);
  });

  it('as a process: a piped secret value, and event list --follow streaming JSON lines until stopped', async () => {
    const put = await goferProcess(['secret', 'pipeline', 'put', 'hello', 'PIPED'], env, false, 'p@ss\n\n');
    expect({ code: put.code, err: put.err }).toEqual({ code: 0, err: '' });
    expect(stub.pipelineSecretPuts.at(-1)!.value).toBe('p@ss\n');

    const child = spawn(process.execPath, [...FROM_SOURCE, 'event', 'list', '--follow', '-o', 'json'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: unknown[] = [];
    let buffered = '';
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.stdout.on('data', (data: Buffer) => {
        buffered += data.toString();
        const complete = buffered.split('\n');
        buffered = complete.pop()!;
        for (const line of complete) lines.push(JSON.parse(line));
        if (lines.length >= STUB_EVENTS.length + 2) resolve();
      });
    });
    child.kill('SIGTERM');
    await stub.eventStreamCancelled;
    expect(lines.slice(0, STUB_EVENTS.length)).toEqual(STUB_EVENTS.map((e) => expect.objectContaining({ id: e.id, kind: e.kind })));
    expect(lines[STUB_EVENTS.length]).toMatchObject({ id: STUB_EVENTS.length + 1, kind: 'heartbeat' });
  });
});
