// Long-lived streams (event follows and log follows) through the real API of a real cluster: they end
// when their token is deleted, disabled or expires, and they take follow slots (per process and per
// token) that come back however a stream ends. Small limits keep it cheap.
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, credentials, Metadata, type ClientReadableStream } from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import { GrpcStatus, loadGoferPackageDefinition, type GoferClient } from '@gofer/proto';
import { GOFER_BIN, TestCluster, waitFor, type GoferProcess } from '../support/gofer-process.js';
import { apply, startRun } from '../support/runs.js';

const MAX_LOG_FOLLOWERS = 3;
const MAX_EVENT_FOLLOWERS = 3;
const MAX_FOLLOWS_PER_TOKEN = 2;

/** How a follow went: the server sent its first message ('open'), or the status it ended with. */
type Outcome = 'open' | { code: number; details: string };

/** One follow, made with a bare grpc-js call so the test can cancel it (the Gofer client cancels only between messages). */
interface Follow {
  /** Settles with the first message or the refusal. */
  opened: Promise<Outcome>;
  /** Settles with the status the stream ended with. */
  ended: Promise<{ code: number; details: string }>;
  /** Cancels the call, as a client going away does. */
  cancel(): void;
}

const grpcClients = new Map<string, Client>();

function openFollow(address: string, method: 'ListEvents' | 'GetTaskRunLogs', request: object, secret: string, deadline = Infinity): Follow {
  const definition = loadGoferPackageDefinition()['gofer.v1.Gofer'] as Record<string, MethodDefinition<object, object>>;
  const { path, requestSerialize, responseDeserialize } = definition[method]!;
  let client = grpcClients.get(address);
  if (!client) grpcClients.set(address, (client = new Client(address, credentials.createInsecure())));
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${secret}`);
  const call: ClientReadableStream<object> = client.makeServerStreamRequest(path, requestSerialize, responseDeserialize, request, metadata, { deadline });
  const ended = new Promise<{ code: number; details: string }>((resolve) => {
    call.on('status', (status: { code: number; details: string }) => resolve({ code: status.code, details: status.details }));
  });
  call.on('error', () => undefined); // reported through 'status'
  const opened = new Promise<Outcome>((resolve) => {
    call.once('data', () => resolve('open'));
    void ended.then(resolve);
  });
  call.on('data', () => undefined); // keep reading
  return { opened, ended, cancel: () => call.cancel() };
}

/** Settles with `promise`, or with 'pending' if it did not settle within `ms`. */
async function within<T>(ms: number, promise: Promise<T>): Promise<T | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'pending'>((resolve) => (timer = setTimeout(() => resolve('pending'), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('stream limits: token re-checks and follow slots', () => {
  let cluster: TestCluster;
  let api1: GoferProcess;
  let api2: GoferProcess;
  let admin: GoferClient;
  let runId: number;
  const open: Follow[] = [];
  const children: ChildProcess[] = [];

  /** A new client token for the default namespace. */
  async function clientToken(expiresInSeconds = 0): Promise<{ id: string; secret: string }> {
    const { token, secret } = await admin.createToken({ kind: 'TOKEN_KIND_CLIENT' as never, namespaces: ['default'], metadata: {}, expiresInSeconds });
    return { id: token!.id, secret };
  }

  function followEvents(secret: string, api = api1, deadline?: number): Follow {
    const follow = openFollow(api.grpcAddr, 'ListEvents', { afterId: 0, follow: true, namespaceId: '' }, secret, deadline);
    open.push(follow);
    return follow;
  }

  function followLogs(secret: string, api = api1): Follow {
    const request = { namespaceId: 'default', pipelineId: 'sleeper', runId, taskId: 'nap', attempt: 0, follow: true };
    const follow = openFollow(api.grpcAddr, 'GetTaskRunLogs', request, secret);
    open.push(follow);
    return follow;
  }

  /** `gofer event list --follow` in its own process, which the test can kill. */
  function cliFollower(secret: string): { child: ChildProcess; printed: Promise<void> } {
    const child = spawn(process.execPath, [GOFER_BIN, 'event', 'list', '--follow', '--host', api1.grpcAddr, '--token', secret], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    const printed = new Promise<void>((resolve, reject) => {
      let stderr = '';
      child.stdout!.once('data', () => resolve());
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.once('exit', (code) => reject(new Error(`gofer event list exited with ${code}: ${stderr}`)));
    });
    return { child, printed };
  }

  /** Cancels every follow the test opened, and gives the server a moment to see the cancellations. */
  async function closeAll(): Promise<void> {
    for (const follow of open.splice(0)) follow.cancel();
    await sleep(300);
  }

  beforeAll(async () => {
    cluster = await TestCluster.create('stream_limits', {
      GOFER_MAX_LOG_FOLLOWERS: String(MAX_LOG_FOLLOWERS),
      GOFER_MAX_EVENT_FOLLOWERS: String(MAX_EVENT_FOLLOWERS),
      GOFER_MAX_FOLLOWS_PER_TOKEN: String(MAX_FOLLOWS_PER_TOKEN),
    });
    api1 = await cluster.start('api,worker');
    api2 = await cluster.start('api');
    admin = cluster.client(api1);
    // Events a client token of "default" may see (so an accepted event follow sends at once), and a
    // task that keeps its log open.
    await apply(admin, 'id: sleeper\ntasks:\n  - { id: nap, image: "busybox:latest", script: "echo started; sleep 600" }\n');
    runId = (await startRun(admin, 'sleeper')).id;
    await waitFor('the task to run', async () => {
      const { taskRun } = await admin.getTaskRun({ namespaceId: 'default', pipelineId: 'sleeper', runId, taskId: 'nap', attempt: 0 });
      return taskRun?.state === 'TASK_RUN_STATE_RUNNING' ? true : undefined;
    });
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await closeAll();
    for (const client of grpcClients.values()) client.close();
    await cluster?.destroy();
  });

  describe('a stream re-checks its token', () => {
    it('an event follow on another API process ends with UNAUTHENTICATED after its token is deleted', async () => {
      const token = await clientToken();
      const follow = followEvents(token.secret, api2);
      expect(await follow.opened).toBe('open');
      await admin.deleteToken({ id: token.id }); // through API #1: API #2 may have the token cached for 2 s
      const ended = await within(30_000, follow.ended); // without the re-check, it never ends
      expect(ended).toMatchObject({ code: GrpcStatus.UNAUTHENTICATED, details: expect.stringContaining('deleted') });
      await closeAll();
    });

    it('a log follow ends with UNAUTHENTICATED soon after its token is disabled', async () => {
      const token = await clientToken();
      const follow = followLogs(token.secret);
      expect(await follow.opened).toBe('open');
      await admin.disableToken({ id: token.id });
      const ended = await within(30_000, follow.ended); // without the re-check, it never ends
      expect(ended).toMatchObject({ code: GrpcStatus.UNAUTHENTICATED, details: expect.stringContaining(`API token ${token.id} is disabled`) });
      await closeAll();
    });

    it('an event follow ends with UNAUTHENTICATED soon after its token expires', async () => {
      const token = await clientToken(3);
      const follow = followEvents(token.secret);
      expect(await follow.opened).toBe('open');
      const ended = await within(30_000, follow.ended);
      expect(ended).toMatchObject({ code: GrpcStatus.UNAUTHENTICATED, details: expect.stringContaining(`API token ${token.id} expired at`) });
      await closeAll();
    });
  });

  describe('follow slots', () => {
    it('one token gets at most GOFER_MAX_FOLLOWS_PER_TOKEN follows, logs and events together, while other tokens still get theirs', async () => {
      const greedy = await clientToken();
      expect(await followEvents(greedy.secret).opened).toBe('open');
      expect(await followLogs(greedy.secret).opened).toBe('open');
      for (const extra of [followEvents(greedy.secret), followLogs(greedy.secret)]) {
        expect(await extra.opened).toMatchObject({
          code: GrpcStatus.RESOURCE_EXHAUSTED,
          details: expect.stringMatching(new RegExp(`token ${greedy.id} .*${MAX_FOLLOWS_PER_TOKEN}.*GOFER_MAX_FOLLOWS_PER_TOKEN`)),
        });
      }
      // Per process: the same token still follows on the other API process.
      expect(await followEvents(greedy.secret, api2).opened).toBe('open');
      const other = await clientToken();
      expect(await followLogs(other.secret).opened).toBe('open');
      expect(await followEvents(other.secret).opened).toBe('open');
      await closeAll();
    });

    it('counts a burst of concurrent follows exactly: the token gets its limit, no more', async () => {
      const token = await clientToken();
      const burst = Array.from({ length: 8 }, (_, i) => (i % 2 ? followEvents(token.secret) : followLogs(token.secret)));
      const outcomes = await Promise.all(burst.map((f) => f.opened));
      expect(outcomes.filter((o) => o === 'open')).toHaveLength(MAX_FOLLOWS_PER_TOKEN);
      expect(outcomes.filter((o) => o !== 'open')).toEqual(
        Array(8 - MAX_FOLLOWS_PER_TOKEN).fill(expect.objectContaining({ code: GrpcStatus.RESOURCE_EXHAUSTED })),
      );
      await closeAll();
    });

    it('caps event follows per API process at GOFER_MAX_EVENT_FOLLOWERS; reading without follow still works', async () => {
      const [a, b, c] = [await clientToken(), await clientToken(), await clientToken()];
      for (const follow of [followEvents(a.secret), followEvents(a.secret), followEvents(b.secret)]) expect(await follow.opened).toBe('open');
      expect(await followEvents(c.secret).opened).toMatchObject({
        code: GrpcStatus.RESOURCE_EXHAUSTED,
        details: expect.stringMatching(new RegExp(`${MAX_EVENT_FOLLOWERS} event follows .*GOFER_MAX_EVENT_FOLLOWERS`)),
      });
      const listed = cluster.client(api1, c.secret).listEvents({ afterId: 0, follow: false, namespaceId: '', skipExisting: false, last: 0 });
      let count = 0;
      for await (const _ of listed) count++;
      expect(count).toBeGreaterThan(0);
      expect(await followEvents(c.secret, api2).opened).toBe('open');
      await closeAll();
    });

    it('gives slots back when clients are killed: open to the limit, kill them, open to the limit again', async () => {
      const [a, b, outsider] = [await clientToken(), await clientToken(), await clientToken()];
      for (let round = 0; round < 2; round++) {
        const followers = [cliFollower(a.secret), cliFollower(a.secret), cliFollower(b.secret)];
        await Promise.all(followers.map((f) => f.printed));
        expect(await followEvents(outsider.secret).opened).toMatchObject({ code: GrpcStatus.RESOURCE_EXHAUSTED });
        expect(await followEvents(a.secret, api2).opened).toBe('open'); // a's limit is per process
        await closeAll();
        for (const { child } of followers) child.kill('SIGKILL');
        await waitFor('the killed followers\' slots', async () => {
          const probe = followEvents(outsider.secret);
          const outcome = await probe.opened;
          await closeAll();
          return outcome === 'open' ? true : undefined;
        }, 10_000);
      }
    });

    it('gives slots back when a deadline ends a stream, and when the server ends one (token disabled)', async () => {
      const token = await clientToken();
      const deadline = Date.now() + 1500;
      const timed = [followEvents(token.secret, api1, deadline), followEvents(token.secret, api1, deadline)];
      expect(await Promise.all(timed.map((f) => f.opened))).toEqual(['open', 'open']);
      expect(await followEvents(token.secret).opened).toMatchObject({ code: GrpcStatus.RESOURCE_EXHAUSTED });
      expect((await Promise.all(timed.map((f) => f.ended))).map((e) => e.code)).toEqual([GrpcStatus.DEADLINE_EXCEEDED, GrpcStatus.DEADLINE_EXCEEDED]);
      await sleep(300); // the server's own deadline timer ends its side
      expect(await followEvents(token.secret).opened).toBe('open');
      expect(await followEvents(token.secret).opened).toBe('open');
      await closeAll();

      // The process cap: three tokens fill it; one is disabled, its stream ends, and its slot is free again.
      const [a, b, c, d] = [await clientToken(), await clientToken(), await clientToken(), await clientToken()];
      const held = [followEvents(a.secret), followEvents(b.secret), followEvents(c.secret)];
      for (const follow of held) expect(await follow.opened).toBe('open');
      expect(await followEvents(d.secret).opened).toMatchObject({ code: GrpcStatus.RESOURCE_EXHAUSTED });
      await admin.disableToken({ id: c.id });
      expect(await within(30_000, held[2]!.ended)).toMatchObject({ code: GrpcStatus.UNAUTHENTICATED });
      expect(await followEvents(d.secret).opened).toBe('open');
      await closeAll();
    });
  });
});
