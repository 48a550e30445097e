// The built `gofer` CLI, spawned as its own process (no TTY), against a real Gofer: tokens, namespaces,
// secrets, objects and events (docs/design.md §7–§9), asserting exit codes, JSON shapes and error lines.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, GOFER_BIN, TestCluster, waitFor, type GoferProcess } from '../support/gofer-process.js';

interface CliResult {
  code: number | null;
  out: string;
  err: string;
  /** stdout as bytes (object downloads). */
  bytes: Buffer;
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const TOKEN_SECRET = /^gofer_[A-Za-z0-9_-]{43}$/;
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

const STORE = `
id: cli-store
tasks:
  - id: work
    image: busybox:latest
    script: 'echo stored'
`;

/**
 * Starts `gofer service start --roles api` for a cluster WITHOUT taking its bootstrap token (as
 * `cluster.start` does), so the CLI's own `service token bootstrap` is the first. The process joins
 * the cluster's list, so `cluster.destroy()` stops it.
 */
async function startUnbootstrapped(cluster: TestCluster): Promise<GoferProcess> {
  const grpcAddr = `127.0.0.1:${await freePort()}`;
  const httpAddr = `127.0.0.1:${await freePort()}`;
  const child = spawn(process.execPath, [GOFER_BIN, 'service', 'start', '--roles', 'api'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...cluster.env({ GOFER_GRPC_ADDR: grpcAddr, GOFER_HTTP_ADDR: httpAddr }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const handle: GoferProcess = {
    child,
    roles: 'api',
    grpcAddr,
    httpAddr,
    workerId: 'none',
    output: () => output,
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  cluster.processes.push(handle);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`gofer exited with ${child.exitCode} while starting:\n${output}`);
    if (await fetch(`http://${httpAddr}/healthz`).then((r) => r.ok, () => false)) return handle;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gofer did not become healthy within 60s:\n${output}`);
}

describe('the gofer CLI with tokens, namespaces, secrets, objects and events', () => {
  let cluster: TestCluster;
  let fresh: TestCluster;
  let api: GoferProcess;
  let freshApi: GoferProcess;
  let dir: string;

  /** Runs the built CLI against the cluster with its management token (unless `env` overrides). */
  function gofer(args: string[], options: { stdin?: string | Buffer; env?: Record<string, string> } = {}): Promise<CliResult> {
    const child = spawn(process.execPath, [GOFER_BIN, ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', GOFER_HOST: api.grpcAddr, GOFER_TOKEN: cluster.token, ...options.env },
      stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    if (options.stdin !== undefined) child.stdin!.end(options.stdin);
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => {
        const bytes = Buffer.concat(out);
        resolve({ code, out: bytes.toString('utf8'), err, bytes });
      });
    });
  }

  /** Runs a command with `--output json`; it must succeed silently on stderr. */
  async function goferJson<T = any>(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<T> {
    const { code, out, err } = await gofer([...args, '--output', 'json'], options);
    expect({ args, code, err }).toEqual({ args, code: 0, err: '' });
    return JSON.parse(out) as T;
  }

  /** A failure: exit 1, nothing on stdout, exactly one line on stderr (returned without its newline). */
  async function failsWithOneLine(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<string> {
    const { code, out, err } = await gofer(args, options);
    expect({ args, code, out }).toEqual({ args, code: 1, out: '' });
    expect(err.endsWith('\n'), err).toBe(true);
    expect(err.trimEnd().split('\n'), err).toHaveLength(1);
    return err.trimEnd();
  }

  beforeAll(async () => {
    if (!existsSync(GOFER_BIN)) throw new Error(`${GOFER_BIN} is missing: run npm run build first`);
    dir = await mkdtemp(join(tmpdir(), 'gofer-cli-stores-'));
    await writeFile(join(dir, 'store.yaml'), STORE);
    [cluster, fresh] = await Promise.all([TestCluster.create('cli_stores'), TestCluster.create('cli_stores_fresh')]);
    [api, freshApi] = await Promise.all([cluster.start('api,worker'), startUnbootstrapped(fresh)]);
    expect((await gofer(['pipeline', 'apply', 'store.yaml'])).code).toBe(0);
  });

  afterAll(async () => {
    await Promise.all([cluster?.destroy(), fresh?.destroy()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  describe('tokens', () => {
    it('service token bootstrap prints the first management token of a fresh service, then refuses with one line', async () => {
      const first = await gofer(['service', 'token', 'bootstrap'], { env: { GOFER_HOST: freshApi.grpcAddr, GOFER_TOKEN: '' } });
      expect({ code: first.code, err: first.err }).toEqual({ code: 0, err: '' });
      const secret = first.out.trimEnd();
      expect(first.out).toBe(`${secret}\n`);
      expect(secret).toMatch(TOKEN_SECRET);

      const whoami = await goferJson(['token', 'whoami'], { env: { GOFER_HOST: freshApi.grpcAddr, GOFER_TOKEN: secret } });
      expect(whoami).toStrictEqual({
        id: expect.stringMatching(/^tok_/),
        kind: 'management',
        namespaces: [],
        metadata: { bootstrap: 'true' },
        created: expect.stringMatching(ISO),
        expires: null,
        disabled: false,
      });
      const [{ hash }] = await fresh.query<{ hash: Buffer }>('SELECT hash FROM tokens WHERE id = $1', [whoami.id]);
      expect(hash.toString('hex')).toBe(sha256(secret)); // stored hashed, never as the secret

      for (const env of [
        { GOFER_HOST: freshApi.grpcAddr, GOFER_TOKEN: '' },
        { GOFER_HOST: freshApi.grpcAddr, GOFER_TOKEN: secret }, // the token is not what is refused
        { GOFER_HOST: api.grpcAddr, GOFER_TOKEN: '' }, // the harness took this cluster's already
      ]) {
        expect(await failsWithOneLine(['service', 'token', 'bootstrap'], { env })).toMatch(/^the bootstrap token was already issued.*gofer token create/);
      }
      expect(await fresh.query('SELECT id FROM tokens')).toHaveLength(1);
    });

    it('token create --kind client --namespaces default --expires 1d -o json, then token whoami with it', async () => {
      const before = Date.now();
      const issued = await goferJson(['token', 'create', '--kind', 'client', '--namespaces', 'default', '--expires', '1d']);
      expect(issued).toStrictEqual({
        token: {
          id: expect.stringMatching(/^tok_/),
          kind: 'client',
          namespaces: ['default'],
          metadata: {},
          created: expect.stringMatching(ISO),
          expires: expect.stringMatching(ISO),
          disabled: false,
        },
        secret: expect.stringMatching(TOKEN_SECRET),
      });
      const lifetime = Date.parse(issued.token.expires) - Date.parse(issued.token.created);
      expect(lifetime).toBeGreaterThanOrEqual(86_400_000);
      expect(lifetime).toBeLessThan(86_400_000 + 60_000);
      expect(Date.parse(issued.token.created)).toBeGreaterThanOrEqual(before - 1000);

      const whoami = await goferJson(['token', 'whoami'], { env: { GOFER_TOKEN: issued.secret } });
      expect(whoami).toStrictEqual(issued.token);
      // The client token works in its namespace.
      expect((await goferJson<any[]>(['pipeline', 'list'], { env: { GOFER_TOKEN: issued.secret } })).map((p) => p.id)).toContain('cli-store');
      // Plain output of create is the bare secret, so $(gofer token create) captures it.
      const plain = await gofer(['token', 'create', '--namespaces', 'default']);
      expect({ code: plain.code, err: plain.err }).toEqual({ code: 0, err: '' });
      expect(plain.out).toMatch(/^gofer_[A-Za-z0-9_-]{43}\n$/);
    });
  });

  describe('namespaces', () => {
    it('namespace create / list / get / delete', async () => {
      const created = await gofer(['namespace', 'create', 'cli-team', '--name', 'CLI Team', '--description', 'made by the CLI test']);
      expect(created).toMatchObject({ code: 0, out: 'created namespace cli-team\n', err: '' });

      const list = await goferJson<any[]>(['namespace', 'list']);
      expect(list.map((n) => n.id)).toEqual(['cli-team', 'default']);
      for (const n of list) expect(Object.keys(n).sort()).toEqual(['created', 'description', 'id', 'name']);

      expect(await goferJson(['namespace', 'get', 'cli-team'])).toStrictEqual({
        id: 'cli-team', name: 'CLI Team', description: 'made by the CLI test', created: expect.stringMatching(ISO),
      });
      expect(await failsWithOneLine(['namespace', 'create', 'cli-team'])).toBe('namespace "cli-team" already exists');
      expect(await failsWithOneLine(['namespace', 'create', 'Bad Id'])).toMatch(/^id: "Bad Id" is not a valid namespace id/);

      // Holding a pipeline, it is kept unless --force.
      expect((await gofer(['pipeline', 'apply', 'store.yaml', '-n', 'cli-team'])).code).toBe(0);
      expect((await goferJson<any[]>(['pipeline', 'list', '-n', 'cli-team'])).map((p) => p.id)).toEqual(['cli-store']);
      expect(await failsWithOneLine(['namespace', 'delete', 'cli-team'])).toMatch(/^namespace "cli-team" holds 1 pipeline\(s\) \(cli-store\).*--force$/);
      expect(await gofer(['namespace', 'delete', 'cli-team', '--force'])).toMatchObject({ code: 0, out: 'deleted namespace cli-team\n', err: '' });

      expect(await failsWithOneLine(['namespace', 'get', 'cli-team'])).toBe('namespace "cli-team" not found');
      expect(await failsWithOneLine(['namespace', 'delete', 'cli-team'])).toBe('namespace "cli-team" not found');
      expect((await goferJson<any[]>(['namespace', 'list'])).map((n) => n.id)).toEqual(['default']);
      // The pipeline of the same name in "default" was not touched.
      expect((await goferJson(['pipeline', 'get', 'cli-store'])).id).toBe('cli-store');

      await gofer(['namespace', 'create', 'cli-empty']);
      expect(await goferJson(['namespace', 'delete', 'cli-empty'])).toEqual({ id: 'cli-empty', deleted: true });
    });
  });

  describe('secrets', () => {
    const VALUE = `v4lue-${randomBytes(6).toString('hex')}`;

    it('secret pipeline put reads the value from stdin; get --include-value prints it; list never does', async () => {
      const put = await gofer(['secret', 'pipeline', 'put', 'cli-store', 'DEPLOY_TOKEN'], { stdin: `${VALUE}\n` });
      expect(put).toMatchObject({ code: 0, out: 'stored secret DEPLOY_TOKEN in pipeline cli-store\n', err: '' });

      // One trailing newline (the one echo adds) is not part of the value.
      expect(await gofer(['secret', 'pipeline', 'get', 'cli-store', 'DEPLOY_TOKEN', '--include-value'])).toMatchObject({ code: 0, out: `${VALUE}\n`, err: '' });
      expect(await goferJson(['secret', 'pipeline', 'get', 'cli-store', 'DEPLOY_TOKEN', '--include-value'])).toStrictEqual({
        key: 'DEPLOY_TOKEN', value: VALUE, namespaces: [], created: expect.stringMatching(ISO), updated: expect.stringMatching(ISO),
      });

      const list = await gofer(['secret', 'pipeline', 'list', 'cli-store', '-o', 'json']);
      expect({ code: list.code, err: list.err }).toEqual({ code: 0, err: '' });
      expect(list.out).not.toContain(VALUE);
      expect(JSON.parse(list.out)).toStrictEqual([
        { key: 'DEPLOY_TOKEN', namespaces: [], created: expect.stringMatching(ISO), updated: expect.stringMatching(ISO) },
      ]);
      const plainGet = await gofer(['secret', 'pipeline', 'get', 'cli-store', 'DEPLOY_TOKEN']);
      expect(plainGet.code).toBe(0);
      expect(plainGet.out).toContain('DEPLOY_TOKEN');
      expect(plainGet.out).not.toContain(VALUE);
      // The events carry the key, never the value.
      const events = await gofer(['event', 'list', '-o', 'json']);
      expect(events.out).toContain('"DEPLOY_TOKEN"');
      expect(events.out).not.toContain(VALUE);
    });

    it('a missing secret and an empty stdin exit with one line each', async () => {
      expect(await failsWithOneLine(['secret', 'pipeline', 'get', 'cli-store', 'NOPE', '--include-value'])).toMatch(/"NOPE" not found/);
      const empty = await gofer(['secret', 'pipeline', 'put', 'cli-store', 'EMPTY'], { stdin: '' });
      expect({ code: empty.code, out: empty.out }).toEqual({ code: 2, out: '' });
      expect(empty.err).toMatch(/^error: no secret value/);
      const bad = await failsWithOneLine(['secret', 'pipeline', 'put', 'cli-store', 'bad key'], { stdin: 'x' });
      expect(bad).toContain('key: "bad key" is not a valid secret key');
      expect(await cluster.query("SELECT key FROM secrets WHERE key IN ('EMPTY', 'bad key')")).toEqual([]);
    });
  });

  describe('objects', () => {
    it('pipeline object put / get / list / delete with a file and with stdin and stdout', async () => {
      const blob = randomBytes(300 * 1024);
      await writeFile(join(dir, 'blob.bin'), blob);
      const put = await goferJson(['pipeline', 'object', 'put', 'cli-store', 'blob.bin', 'blob.bin']);
      expect(put).toStrictEqual({ key: 'blob.bin', size: blob.length, sha256: sha256(blob), created: expect.stringMatching(ISO), evicted: [] });

      const piped = 'hello from stdin\n';
      const fromStdin = await gofer(['pipeline', 'object', 'put', 'cli-store', 'note.txt', '-'], { stdin: piped });
      expect({ code: fromStdin.code, err: fromStdin.err }).toEqual({ code: 0, err: '' });
      expect(fromStdin.out).toMatch(/^stored note\.txt in pipeline cli-store/);

      // To a file, and to stdout (binary-exact).
      const toFile = await gofer(['pipeline', 'object', 'get', 'cli-store', 'blob.bin', 'copy.bin']);
      expect({ code: toFile.code, err: toFile.err }).toEqual({ code: 0, err: '' });
      expect((await readFile(join(dir, 'copy.bin'))).equals(blob)).toBe(true);
      const toStdout = await gofer(['pipeline', 'object', 'get', 'cli-store', 'blob.bin']);
      expect({ code: toStdout.code, err: toStdout.err }).toEqual({ code: 0, err: '' });
      expect(toStdout.bytes.equals(blob)).toBe(true);
      expect(await gofer(['pipeline', 'object', 'get', 'cli-store', 'note.txt', '-'])).toMatchObject({ code: 0, out: piped, err: '' });

      const list = await goferJson<any[]>(['pipeline', 'object', 'list', 'cli-store']);
      expect(list.map((o) => [o.key, o.size, o.sha256]).sort()).toEqual([
        ['blob.bin', blob.length, sha256(blob)],
        ['note.txt', Buffer.byteLength(piped), sha256(piped)],
      ]);

      expect(await goferJson(['pipeline', 'object', 'delete', 'cli-store', 'blob.bin'])).toEqual({ key: 'blob.bin', deleted: true });
      expect((await goferJson<any[]>(['pipeline', 'object', 'list', 'cli-store'])).map((o) => o.key)).toEqual(['note.txt']);
      expect(await failsWithOneLine(['pipeline', 'object', 'get', 'cli-store', 'blob.bin'])).toMatch(/^object "blob\.bin" not found/);
      expect(await failsWithOneLine(['pipeline', 'object', 'delete', 'cli-store', 'blob.bin'])).toMatch(/^object "blob\.bin" not found/);
      expect(await failsWithOneLine(['pipeline', 'object', 'list', 'no-such-pipe'])).toMatch(/"no-such-pipe" not found/);
    });

    it('run object put / get / list for an existing run', async () => {
      const run = await gofer(['pipeline', 'run', 'cli-store', '--wait', '-o', 'json']);
      expect({ code: run.code, err: run.err }).toEqual({ code: 0, err: '' });
      const { id } = JSON.parse(run.out) as { id: number };
      const report = `report of run ${id}\n`;
      const put = await gofer(['run', 'object', 'put', 'cli-store', String(id), 'report.txt'], { stdin: report });
      expect({ code: put.code, err: put.err }).toEqual({ code: 0, err: '' });
      expect(put.out).toMatch(new RegExp(`^stored report\\.txt in run ${id} of cli-store`));
      expect(await gofer(['run', 'object', 'get', 'cli-store', String(id), 'report.txt'])).toMatchObject({ code: 0, out: report, err: '' });
      expect(await goferJson(['run', 'object', 'list', 'cli-store', String(id)])).toStrictEqual([
        { key: 'report.txt', size: Buffer.byteLength(report), sha256: sha256(report), created: expect.stringMatching(ISO) },
      ]);
      // A run that does not exist.
      expect(await failsWithOneLine(['run', 'object', 'put', 'cli-store', '99', 'report.txt'], { stdin: 'x' })).toMatch(/run 99 .*not found/);
    });
  });

  describe('events', () => {
    it('event list -o json prints JSON lines, oldest first, including pipeline_created', async () => {
      const { code, out, err } = await gofer(['event', 'list', '-o', 'json']);
      expect({ code, err }).toEqual({ code: 0, err: '' });
      const lines = out.trimEnd().split('\n');
      const events = lines.map((line) => JSON.parse(line));
      for (const e of events) {
        expect(Object.keys(e).sort()).toEqual(['details', 'emitted', 'id', 'kind', 'namespace', 'pipeline', 'run', 'task']);
        expect(e.emitted).toMatch(ISO);
      }
      const ids = events.map((e) => e.id as number);
      expect([...ids].sort((a, b) => a - b)).toEqual(ids);
      expect(events).toContainEqual({
        id: expect.any(Number), kind: 'pipeline_created', namespace: 'default', pipeline: 'cli-store', run: null, task: null,
        details: { version: 1 }, emitted: expect.stringMatching(ISO),
      });
      expect(events.map((e) => e.kind)).toEqual(expect.arrayContaining(['token_created', 'namespace_created', 'namespace_deleted', 'run_completed', 'object_put']));
      // --after resumes after an id.
      const after = await gofer(['event', 'list', '-o', 'json', '--after', String(ids.at(-2))]);
      expect(after.out.trimEnd().split('\n').map((line) => JSON.parse(line))).toEqual([events.at(-1)]);
    });

    it('event list --follow --namespace-only -o json streams new events of one namespace as JSON lines', async () => {
      await gofer(['namespace', 'create', 'cli-watch']);
      expect((await gofer(['pipeline', 'apply', 'store.yaml', '-n', 'cli-watch'])).code).toBe(0);
      const [{ max }] = await cluster.query<{ max: string }>('SELECT max(id) FROM events');
      const child = spawn(process.execPath, [GOFER_BIN, 'event', 'list', '--follow', '--namespace-only', '-n', 'cli-watch', '-o', 'json', '--after', max], {
        env: { PATH: process.env.PATH ?? '', GOFER_HOST: api.grpcAddr, GOFER_TOKEN: cluster.token },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
      try {
        // Elsewhere first, then in the followed namespace.
        await gofer(['pipeline', 'object', 'put', 'cli-store', 'elsewhere.txt', '-'], { stdin: 'x' });
        await gofer(['pipeline', 'object', 'put', 'cli-store', 'watched.txt', '-', '-n', 'cli-watch'], { stdin: 'y' });
        await waitFor('the followed event', async () => (out.includes('watched.txt') ? true : undefined), 30_000);
        expect(child.exitCode).toBeNull(); // still following
        expect(out.trimEnd().split('\n').map((line) => JSON.parse(line))).toEqual([
          expect.objectContaining({ kind: 'object_put', namespace: 'cli-watch', pipeline: 'cli-store', details: expect.objectContaining({ key: 'watched.txt' }) }),
        ]);
        expect(err).toBe('');
      } finally {
        child.kill('SIGINT');
        await closed;
      }
    });
  });

  describe('errors', () => {
    it('a wrong token exits 1 with one UNAUTHENTICATED line pointing at gofer service token bootstrap', async () => {
      for (const token of [`gofer_${'A'.repeat(43)}`, 'not-a-token']) {
        const line = await failsWithOneLine(['pipeline', 'list'], { env: { GOFER_TOKEN: token } });
        expect(line).toMatch(token === 'not-a-token' ? /malformed/ : /not known/);
        expect(line).toContain('gofer service token bootstrap');
      }
      const none = await failsWithOneLine(['namespace', 'list'], { env: { GOFER_TOKEN: '' } });
      expect(none).toContain('gofer service token bootstrap');
      // --token wins over GOFER_TOKEN.
      expect(await failsWithOneLine(['pipeline', 'list', '--token', `gofer_${'B'.repeat(43)}`])).toMatch(/not known/);
    });

    it('a client token of another namespace exits 1 with a permission message', async () => {
      await gofer(['namespace', 'create', 'cli-other']);
      const other = (await gofer(['token', 'create', '--namespaces', 'cli-other'])).out.trim();
      expect(other).toMatch(TOKEN_SECRET);
      const env = { GOFER_TOKEN: other };
      for (const args of [
        ['pipeline', 'list'],
        ['secret', 'pipeline', 'get', 'cli-store', 'DEPLOY_TOKEN', '--include-value'],
        ['pipeline', 'object', 'get', 'cli-store', 'note.txt'],
      ]) {
        const line = await failsWithOneLine(args, { env });
        expect(line).toMatch(/may not use namespace "default"/);
        expect(line).toContain('gofer token whoami');
      }
      // Uploads are refused too, and store nothing.
      expect(await failsWithOneLine(['pipeline', 'object', 'put', 'cli-store', 'planted.txt', '-'], { env, stdin: 'planted' })).toMatch(/may not use namespace "default"/);
      expect(await failsWithOneLine(['secret', 'pipeline', 'put', 'cli-store', 'PLANTED'], { env, stdin: 'planted' })).toMatch(/may not use namespace "default"/);
      expect(await cluster.query("SELECT key FROM objects WHERE key = 'planted.txt' UNION SELECT key FROM secrets WHERE key = 'PLANTED'")).toEqual([]);
      // Management-only commands say so.
      expect(await failsWithOneLine(['namespace', 'create', 'cli-sneaky'], { env })).toMatch(/needs a management token/);
      // In its own namespace it works.
      expect(await goferJson(['pipeline', 'list', '-n', 'cli-other'], { env })).toEqual([]);
    });
  });
});
