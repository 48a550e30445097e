import { execFile, execFileSync } from 'node:child_process';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GrpcStatus, type GoferClient, type Notification, type Run } from '@gofer/proto';
import { ContainerCreations } from '../support/docker-events.js';
import { GOFER_BIN, ROOT, TestCluster, waitFor, type GoferProcess } from '../support/gofer-process.js';
import { buildAppImage, removeImage } from '../support/notifier-images.js';
import { apply, startRun, waitForRun } from '../support/runs.js';

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
/** This file's own built-in images, so it never depends on (or disturbs) the shared `gofer/` ones. */
const PREFIX = `gofer-test-${randomBytes(4).toString('hex')}/`;
const WEBHOOK_IMAGE = `${PREFIX}notifier-webhook:${VERSION}`;
const LOG_IMAGE = `${PREFIX}notifier-log:${VERSION}`;

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * An HTTP endpoint on the loopback (notifier containers share the host's network in tests) that records
 * each request and answers `status`, or holds the answer until `release()` when `hold` is set.
 */
class Receiver {
  readonly requests: Received[] = [];
  status = 200;
  hold = false;
  private held: ServerResponse[] = [];
  private constructor(private readonly server: Server) {}

  static async start(): Promise<Receiver> {
    const server = createServer();
    const receiver = new Receiver(server);
    server.on('request', (request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      request.on('end', () => {
        receiver.requests.push({ headers: request.headers, body });
        if (receiver.hold) receiver.held.push(response);
        else response.writeHead(receiver.status).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  release(): void {
    this.hold = false;
    for (const response of this.held.splice(0)) response.writeHead(this.status).end();
  }

  async close(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

async function grpcError(call: Promise<unknown>): Promise<{ code: number; details: string }> {
  const error = await call.then(() => undefined, (e: { code: number; details: string }) => e);
  if (!error) throw new Error('the call succeeded');
  return { code: error.code, details: error.details };
}

/** Waits until every notification of a run is complete; returns the run. */
async function waitForNotifications(client: GoferClient, pipelineId: string, runId: number, count: number): Promise<Run> {
  return waitFor(`the ${count} notification(s) of run ${runId} of ${pipelineId}`, async () => {
    const { run } = await client.getRun({ namespaceId: 'default', pipelineId, runId });
    const done = run?.notifications.filter((n) => n.state === 'NOTIFICATION_STATE_COMPLETE') ?? [];
    return done.length === count ? run! : undefined;
  });
}

/** Runs the built `gofer` CLI against `process` with the cluster's management token. */
function cli(cluster: TestCluster, process: GoferProcess, args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(globalThis.process.execPath, [GOFER_BIN, ...args], {
      env: { PATH: globalThis.process.env.PATH ?? '', HOME: '/root', GOFER_HOST: process.grpcAddr, GOFER_TOKEN: cluster.token },
    }, (error, out, err) => resolve({ code: error ? Number(error.code ?? 1) : 0, out, err }));
  });
}

const byLabel = (run: Run): Record<string, Notification> => Object.fromEntries(run.notifications.map((n) => [n.label, n]));

describe('notifiers (docs/design.md §6)', () => {
  const clusters: TestCluster[] = [];
  const receivers: Receiver[] = [];
  const watchers: ContainerCreations[] = [];
  let cluster: TestCluster;
  let gofer: GoferProcess;
  let client: GoferClient;

  const receiver = async () => {
    const r = await Receiver.start();
    receivers.push(r);
    return r;
  };
  const newCluster = async (name: string) => {
    const c = await TestCluster.create(name, { GOFER_BUILTIN_IMAGE_PREFIX: PREFIX, GOFER_BUILTIN_NOTIFIERS: 'log,webhook' });
    clusters.push(c);
    return c;
  };

  beforeAll(async () => {
    await Promise.all([buildAppImage('notifier-webhook', WEBHOOK_IMAGE), buildAppImage('notifier-log', LOG_IMAGE)]);
    cluster = await newCluster('notifiers');
    gofer = await cluster.start();
    client = cluster.client(gofer);
  }, 300_000);
  afterEach(() => watchers.splice(0).forEach((w) => w.stop()));
  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.close()));
    await Promise.all(clusters.map((c) => c.destroy()));
    removeImage(WEBHOOK_IMAGE);
    removeImage(LOG_IMAGE);
  });

  it('installs, lists, gets and uninstalls notifiers over gRPC, and refuses bad input', async () => {
    // The built-ins are installed at startup with this version's images.
    const { notifiers: builtins } = await client.listNotifiers({});
    expect(builtins.map((n) => [n.name, n.image, n.builtin])).toEqual([['log', LOG_IMAGE, true], ['webhook', WEBHOOK_IMAGE, true]]);

    const { notifier } = await client.installNotifier({ name: 'team-hook', image: WEBHOOK_IMAGE, settings: { url: 'http://127.0.0.1:1/x', secret: 'hunter2' } });
    expect(notifier).toMatchObject({ name: 'team-hook', image: WEBHOOK_IMAGE, settingKeys: ['secret', 'url'], builtin: false });
    expect((await client.getNotifier({ name: 'team-hook' })).notifier).toMatchObject({ settingKeys: ['secret', 'url'] });
    const [stored] = await cluster.query<{ settings: string }>(`SELECT settings::text AS settings FROM notifiers WHERE name = 'team-hook'`);
    expect(stored!.settings).not.toContain('hunter2');

    const refusals: Array<[string, () => Promise<unknown>, number, RegExp]> = [
      ['bad name', () => client.installNotifier({ name: 'Team Hook', image: 'x', settings: {} }), GrpcStatus.INVALID_ARGUMENT, /^name: "Team Hook" is not a valid notifier name/],
      ['missing image', () => client.installNotifier({ name: 'no-image', image: '', settings: {} }), GrpcStatus.INVALID_ARGUMENT, /^image: required/],
      ['bad setting', () => client.installNotifier({ name: 'x1', image: 'x', settings: { 'a-b': '1' } }), GrpcStatus.INVALID_ARGUMENT, /^settings\.a-b: not a valid setting name/],
      ['unknown', () => client.getNotifier({ name: 'ghost' }), GrpcStatus.NOT_FOUND, /^notifier "ghost" is not installed$/],
      ['uninstall unknown', () => client.uninstallNotifier({ name: 'ghost' }), GrpcStatus.NOT_FOUND, /^notifier "ghost" is not installed$/],
      ['apply naming an uninstalled notifier', () => client.applyPipelineConfig({
        namespaceId: 'default', format: 'CONFIG_FORMAT_UNSPECIFIED' as never,
        config: Buffer.from('id: ghostly\ntasks: [{ id: a, image: "busybox:latest" }]\nnotifiers: [{ notifier: x, label: n }]\n'),
      }), GrpcStatus.INVALID_ARGUMENT, /^notifiers\[0\]\.notifier: notifier "x" is not installed$/],
    ];
    // One call at a time: a rejection nobody awaits yet would be reported as unhandled.
    for (const [what, call, code, message] of refusals) {
      const error = await grpcError(call());
      expect({ what, code: error.code }).toEqual({ what, code });
      expect(error.details).toMatch(message);
    }

    // Client tokens may read notifiers, not change them.
    const { secret } = await client.createToken({ kind: 'TOKEN_KIND_CLIENT' as never, namespaces: ['default'], metadata: {}, expiresInSeconds: 0 });
    const reader = cluster.client(gofer, secret);
    expect((await reader.listNotifiers({})).notifiers.map((n) => n.name)).toContain('team-hook');
    expect((await grpcError(reader.installNotifier({ name: 'mine', image: 'x', settings: {} }))).code).toBe(GrpcStatus.PERMISSION_DENIED);
    expect((await grpcError(reader.uninstallNotifier({ name: 'team-hook' }))).code).toBe(GrpcStatus.PERMISSION_DENIED);

    // A notifier in use is kept until no pipeline's latest config lists it.
    await apply(client, 'id: uses-hook\ntasks: [{ id: a, image: "busybox:latest" }]\nnotifiers: [{ notifier: team-hook, label: n }]\n');
    const inUse = await grpcError(client.uninstallNotifier({ name: 'team-hook' }));
    expect(inUse.code).toBe(GrpcStatus.FAILED_PRECONDITION);
    expect(inUse.details).toMatch(/^notifier "team-hook" is listed in the notifiers of pipeline\(s\) default\/uses-hook/);
    await apply(client, 'id: uses-hook\ntasks: [{ id: a, image: "busybox:latest" }]\n');
    await client.uninstallNotifier({ name: 'team-hook' });
    expect((await client.listNotifiers({})).notifiers.map((n) => n.name)).toEqual(['log', 'webhook']);

    // The same through the CLI.
    expect(await cli(cluster, gofer, ['notifier', 'install', 'cli-hook', '--image', WEBHOOK_IMAGE, '--setting', 'url=http://127.0.0.1:1/x']))
      .toEqual({ code: 0, out: `installed notifier cli-hook (${WEBHOOK_IMAGE})\n`, err: '' });
    const listed = await cli(cluster, gofer, ['notifier', 'list', '--output', 'json']);
    expect(JSON.parse(listed.out)).toContainEqual({ name: 'cli-hook', image: WEBHOOK_IMAGE, setting_keys: ['url'], builtin: false, installed: expect.any(String) });
    expect((await cli(cluster, gofer, ['notifier', 'get', 'cli-hook'])).out).toMatch(/^notifier cli-hook\n  image +\S+notifier-webhook:\S+\n  settings +url\n/);
    expect(await cli(cluster, gofer, ['notifier', 'install', 'no-image'])).toMatchObject({ code: 2, err: expect.stringContaining("required option '--image <IMAGE>' not specified") });
    expect(await cli(cluster, gofer, ['notifier', 'uninstall', 'cli-hook'])).toEqual({ code: 0, out: 'uninstalled notifier cli-hook\n', err: '' });
    expect(await cli(cluster, gofer, ['notifier', 'get', 'cli-hook'])).toMatchObject({ code: 1, err: expect.stringContaining('notifier "cli-hook" is not installed') });
  });

  it('a webhook notifier posts the summary of a failed run, signed with its secret; the run stays failed', async () => {
    const hook = await receiver();
    // The secret is an install setting (sealed); the URL comes from the pipeline.
    await client.installNotifier({ name: 'signed-hook', image: WEBHOOK_IMAGE, settings: { secret: 's3cr3t', url: 'http://127.0.0.1:1/unused' } });
    await apply(client, `
id: fails
tasks:
  - { id: ok, image: "busybox:latest", script: "echo fine" }
  - { id: bad, image: "busybox:latest", script: "exit 3" }
notifiers:
  - { notifier: signed-hook, label: hook, settings: { url: "${hook.url}" } }
`);
    const started = await startRun(client, 'fails');
    const { run } = await waitForRun(client, 'fails', started.id);
    expect(run.status).toBe('RUN_STATUS_FAILED');
    const done = await waitForNotifications(client, 'fails', started.id, 1);
    expect(byLabel(done).hook).toMatchObject({
      notifier: 'signed-hook', status: 'NOTIFICATION_STATUS_SUCCESSFUL', exitCode: 0, hasExitCode: true, reason: '',
    });
    expect(done.status).toBe('RUN_STATUS_FAILED');
    expect(done.statusReason).toEqual(run.statusReason);

    expect(hook.requests).toHaveLength(1);
    const [request] = hook.requests;
    const expected = Buffer.from(`sha256=${createHmac('sha256', 's3cr3t').update(request!.body).digest('hex')}`);
    const signature = Buffer.from(String(request!.headers['x-gofer-signature-256']));
    expect(signature.length === expected.length && timingSafeEqual(signature, expected)).toBe(true);
    expect(request!.headers['x-gofer-delivery']).toBe(`default/fails/${started.id}/hook`);
    const summary = JSON.parse(request!.body) as Record<string, unknown>;
    expect(summary).toMatchObject({
      namespace: 'default', pipeline: 'fails', run: started.id, status: 'failed',
      reason: { kind: 'abnormal_exit', description: expect.stringContaining('task "bad" failed') },
      started_by: expect.stringMatching(/^token\/tok_/), config_version: 1,
    });
    expect(summary.task_runs).toEqual(expect.arrayContaining([
      { task: 'ok', status: 'successful', exit_code: 0, reason: null },
      { task: 'bad', status: 'failed', exit_code: 3, reason: { kind: 'abnormal_exit', description: 'exited with code 3' } },
    ]));

    const metrics = await (await fetch(`http://${gofer.httpAddr}/metrics`)).text();
    expect(metrics).toMatch(/^gofer_notifier_runs_total\{notifier="signed-hook",status="successful"\} 1$/m);
    // Its container goes once the result is recorded.
    const [row] = await cluster.query<{ container_id: string }>(`SELECT container_id FROM run_notifications WHERE pipeline_id = 'fails'`);
    expect(row!.container_id).toMatch(/^[0-9a-f]{64}$/);
    await waitFor('the notifier container to be removed', async () => {
      const listed = execFileSync('docker', ['ps', '-aq', '--no-trunc', '--filter', `id=${row!.container_id}`], { encoding: 'utf8' });
      return listed.trim() === '' ? true : undefined;
    });
  });

  it('a notifier that exits non-zero is recorded failed with its exit code and last line; the run stays successful', async () => {
    const hook = await receiver();
    hook.status = 400;
    await client.installNotifier({ name: 'unpullable', image: '127.0.0.1:1/nope:latest', settings: {} });
    await apply(client, `
id: succeeds
tasks: [{ id: ok, image: "busybox:latest", script: "echo fine" }]
notifiers:
  - { notifier: webhook, label: refused, settings: { url: "${hook.url}" } }
  - { notifier: log, label: console }
  - { notifier: unpullable, label: broken }
`);
    const started = await startRun(client, 'succeeds');
    const done = await waitForNotifications(client, 'succeeds', started.id, 3);
    expect(done.status).toBe('RUN_STATUS_SUCCESSFUL');
    expect(byLabel(done).refused).toMatchObject({
      notifier: 'webhook', state: 'NOTIFICATION_STATE_COMPLETE', status: 'NOTIFICATION_STATUS_FAILED', exitCode: 1, hasExitCode: true,
      reason: `exited with code 1: notifier-webhook: POST ${hook.url} failed after 1 try: HTTP 400 Bad Request`,
    });
    expect(byLabel(done).console).toMatchObject({ notifier: 'log', status: 'NOTIFICATION_STATUS_SUCCESSFUL', exitCode: 0 });
    expect(byLabel(done).broken).toMatchObject({ status: 'NOTIFICATION_STATUS_FAILED', hasExitCode: false });
    expect(byLabel(done).broken!.reason).toMatch(/^its container could not be started: .*127\.0\.0\.1:1\/nope:latest/);
    // `gofer run get` shows them, plain and as JSON.
    const plain = await cli(cluster, gofer, ['run', 'get', 'succeeds', String(started.id)]);
    expect(plain.out).toMatch(/^NOTIFIER +LABEL +STATUS +EXIT +DURATION +REASON$/m);
    expect(plain.out).toMatch(/^webhook +refused +failed +1 +\S+ +exited with code 1: notifier-webhook: POST .* HTTP 400 Bad Request$/m);
    expect(plain.out).toMatch(/^log +console +successful +0 +\S+ *$/m);
    const json = JSON.parse((await cli(cluster, gofer, ['run', 'get', 'succeeds', String(started.id), '--output', 'json'])).out);
    expect(json.status).toBe('successful');
    expect(json.notifications).toContainEqual({
      label: 'refused', notifier: 'webhook', state: 'complete', status: 'failed', exit_code: 1,
      reason: expect.stringMatching(/^exited with code 1: /), started: expect.any(String), ended: expect.any(String),
    });
    // The log notifier's output reaches the worker's log.
    await waitFor('the log notifier output in the worker log', async () =>
      gofer.output().includes(`run ${started.id} of default/succeeds: successful`) ? true : undefined, 10_000);
    const events = await cluster.query<{ details: Record<string, unknown> }>(
      `SELECT details FROM events WHERE kind = 'notification_completed' AND pipeline_id = 'succeeds' ORDER BY id`,
    );
    expect(events.map((e) => [e.details.label, e.details.status, e.details.exit_code])).toEqual(
      expect.arrayContaining([['refused', 'failed', 1], ['console', 'successful', 0]]),
    );
  });

  it('records a notifier uninstalled since the run\'s config version was applied as not installed', async () => {
    await client.installNotifier({ name: 'temporary', image: LOG_IMAGE, settings: {} });
    await apply(client, 'id: versions\ntasks: [{ id: a, image: "busybox:latest", script: "true" }]\nnotifiers: [{ notifier: temporary, label: t }]\n');
    const first = await startRun(client, 'versions');
    expect(byLabel(await waitForNotifications(client, 'versions', first.id, 1)).t!.status).toBe('NOTIFICATION_STATUS_SUCCESSFUL');
    await apply(client, 'id: versions\ntasks: [{ id: a, image: "busybox:latest", script: "true" }]\n');
    await client.uninstallNotifier({ name: 'temporary' });
    // A retry runs its run's config version, which still lists the notifier.
    const { run: retry } = await client.retryRun({ namespaceId: 'default', pipelineId: 'versions', runId: first.id });
    const done = await waitForNotifications(client, 'versions', retry!.id, 1);
    expect(done.status).toBe('RUN_STATUS_SUCCESSFUL');
    expect(byLabel(done).t).toMatchObject({
      status: 'NOTIFICATION_STATUS_FAILED', hasExitCode: false, reason: 'notifier "temporary" is not installed',
    });
  });

  it('SIGKILL of the worker running a notifier: another worker adopts its container, which posts once', async () => {
    const crashing = await newCluster('notifier-adopt');
    const api = await crashing.start('api');
    const workerA = await crashing.start('worker');
    const admin = crashing.client(api);
    const creations = await ContainerCreations.watch({ 'gofer.cluster': await crashing.clusterId() });
    watchers.push(creations);
    const hook = await receiver();
    hook.hold = true;
    await apply(admin, `id: adopted\ntasks: [{ id: a, image: "busybox:latest", script: "true" }]\nnotifiers: [{ notifier: webhook, label: hook, settings: { url: "${hook.url}", timeout_seconds: "120" } }]\n`);
    const started = await startRun(admin, 'adopted');
    await waitFor('the webhook request to arrive', async () => (hook.requests.length === 1 ? true : undefined));
    await workerA.kill('SIGKILL');
    const workerB = await crashing.start('worker');
    await waitFor('worker B to adopt the notification', async () => {
      const [row] = await crashing.query<{ worker_id: string }>(`SELECT worker_id FROM run_notifications WHERE pipeline_id = 'adopted'`);
      return row?.worker_id === workerB.workerId ? true : undefined;
    });
    hook.release();
    const done = await waitForNotifications(admin, 'adopted', started.id, 1);
    expect(byLabel(done).hook).toMatchObject({ status: 'NOTIFICATION_STATUS_SUCCESSFUL', exitCode: 0 });
    expect(hook.requests).toHaveLength(1);
    const notifierContainers = [...creations.counts()].filter(([name]) => name.includes('.notify.'));
    expect(notifierContainers).toEqual([[expect.stringMatching(new RegExp(`\\.default\\.adopted\\.${started.id}\\.notify\\.hook$`)), 1]]);
  });
});
