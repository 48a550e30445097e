import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Docker from 'dockerode';
import type { GoferClient, InstalledTrigger } from '@gofer/proto';
import { ROOT, TestCluster, waitFor, type GoferProcess } from '../support/gofer-process.js';
import { apply, readLogs, waitForRun } from '../support/runs.js';

const docker = new Docker({ socketPath: '/var/run/docker.sock' });
const SECRET = `whsec-${randomBytes(12).toString('hex')}`;
const MAX_BYTES = 16 * 1024;
const PUSH = readFileSync(join(ROOT, 'apps/trigger-github/test-fixtures/push.json'));
const PULL_REQUEST = readFileSync(join(ROOT, 'apps/trigger-github/test-fixtures/pull_request.json'));

/** `X-Hub-Signature-256` as GitHub computes it: HMAC-SHA256 of the raw body, hex, prefixed. */
function sign(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** The headers of a GitHub delivery of `event`, signed with `secret` over `body`. */
function delivery(event: string, body: string | Buffer, id: string = randomUUID(), secret = SECRET): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': 'GitHub-Hookshot/044aadd',
    'x-github-event': event,
    'x-github-delivery': id,
    'x-github-hook-id': '292430182',
    'x-hub-signature-256': sign(secret, body),
  };
}

/**
 * The built-in github trigger (apps/trigger-github), installed at startup with
 * GOFER_GITHUB_WEBHOOK_SECRET and run in its real container, fed signed deliveries through Gofer's
 * webhook route `POST /api/external/<trigger>`.
 */
describe('the built-in github trigger', () => {
  let cluster: TestCluster;
  let api: GoferProcess;
  let secondApi: GoferProcess;
  let client: GoferClient;

  beforeAll(async () => {
    cluster = await TestCluster.create('github-trigger', {
      GOFER_BUILTIN_TRIGGERS: 'github',
      GOFER_GITHUB_WEBHOOK_SECRET: SECRET,
      GOFER_WEBHOOK_MAX_BYTES: String(MAX_BYTES),
    });
    api = await cluster.start('api');
    await cluster.start('worker');
    secondApi = await cluster.start('api');
    client = cluster.client(api);
    await running('github');
    await apply(client, `
id: gh-push
tasks: [{ id: env, image: "busybox:latest", script: "env | grep GOFER_TRIGGER_GITHUB | sort" }]
triggers: [{ trigger: github, label: push, settings: { events: push, repository: codertocat/hello-world } }]
`);
    await apply(client, `
id: gh-pr
tasks: [{ id: env, image: "busybox:latest", script: "env | grep GOFER_TRIGGER_GITHUB | sort" }]
triggers: [{ trigger: github, label: pr, settings: { events: "pull_request/opened,synchronize" } }]
`);
  }, 180_000);
  afterAll(async () => {
    if (process.env.DEBUG_TRIGGER) {
      const clusterId = await cluster.clusterId();
      for (const c of await docker.listContainers({ all: true, filters: { label: [`gofer.cluster=${clusterId}`, 'gofer.trigger'] } })) {
        const logs = await docker.getContainer(c.Id).logs({ stdout: true, stderr: true });
        console.log(c.Names, c.Status, logs.toString());
      }
    }
    await cluster?.destroy();
  });

  async function running(name: string): Promise<InstalledTrigger> {
    return waitFor(`trigger ${name} to run`, async () => {
      const { trigger } = await client.getTrigger({ name });
      if (trigger?.state === 'TRIGGER_STATE_RUNNING') return trigger;
      throw new Error(`state ${trigger?.state}, container ${trigger?.containerId || '-'}, last error: ${trigger?.lastError || '-'}`);
    });
  }

  async function post(body: string | Buffer, headers: Record<string, string>, options: { via?: GoferProcess; trigger?: string } = {}) {
    const response = await fetch(`http://${(options.via ?? api).httpAddr}/api/external/${options.trigger ?? 'github'}`, { method: 'POST', headers, body });
    return { status: response.status, message: ((await response.json()) as { message: string }).message };
  }

  async function runCount(pipelineId: string): Promise<number> {
    const { runs } = await client.listRuns({ namespaceId: 'default', pipelineId, limit: 0, offset: 0, states: [], statuses: [], startedBy: '' });
    return runs.length;
  }

  /** Every pipeline's run count, to show that a refused delivery started nothing anywhere. */
  async function allRuns(): Promise<number> {
    return (await runCount('gh-push')) + (await runCount('gh-pr'));
  }

  it("GitHub's documented test vector verifies; a one-character change does not", async () => {
    const vector = { secret: "It's a Secret to Everybody", payload: 'Hello, World!', signature: 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17' };
    // This file signs the way GitHub does.
    expect(sign(vector.secret, vector.payload)).toBe(vector.signature);
    const { trigger: github } = await client.getTrigger({ name: 'github' });
    await client.installTrigger({ name: 'gh-vector', image: github!.image, settings: { secret: vector.secret } });
    await running('gh-vector');
    const headers = { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomUUID() };

    const verified = await post(vector.payload, { ...headers, 'x-hub-signature-256': vector.signature }, { trigger: 'gh-vector' });
    // The signature passed; "Hello, World!" is then no JSON delivery (400), which is not a 401.
    expect(verified.status).not.toBe(401);
    expect(verified).toMatchObject({ status: 400, message: expect.stringContaining('not JSON') });

    const lastDigit = vector.signature.at(-1) === '7' ? '8' : '7';
    const wrongSignature = await post(vector.payload, { ...headers, 'x-hub-signature-256': vector.signature.slice(0, -1) + lastDigit }, { trigger: 'gh-vector' });
    expect(wrongSignature.status).toBe(401);
    const wrongPayload = await post('Hello, World?', { ...headers, 'x-hub-signature-256': vector.signature }, { trigger: 'gh-vector' });
    expect(wrongPayload.status).toBe(401);

    await client.uninstallTrigger({ name: 'gh-vector' });
  });

  it('a signed push starts a run with the push variables', async () => {
    const id = randomUUID();
    const answer = await post(PUSH, delivery('push', PUSH, id));
    expect(answer).toEqual({ status: 202, message: 'event push of Codertocat/Hello-World: 1 run(s) started, 0 duplicate(s) for 1 matching subscription(s)' });
    const { runs } = await client.listRuns({ namespaceId: 'default', pipelineId: 'gh-push', limit: 0, offset: 0, states: [], statuses: [], startedBy: '' });
    expect(runs).toHaveLength(1);
    const { run } = await waitForRun(client, 'gh-push', runs[0]!.id);
    const expected = {
      GOFER_TRIGGER_GITHUB_EVENT: 'push',
      GOFER_TRIGGER_GITHUB_DELIVERY: id,
      GOFER_TRIGGER_GITHUB_REPOSITORY: 'Codertocat/Hello-World',
      GOFER_TRIGGER_GITHUB_SENDER: 'Codertocat',
      GOFER_TRIGGER_GITHUB_REF: 'refs/heads/main',
      GOFER_TRIGGER_GITHUB_SHA: '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c',
    };
    expect(run.variables).toEqual(expected);
    expect(run.startedBy).toBe('trigger/github/push');
    expect(run.status).toBe('RUN_STATUS_SUCCESSFUL');
    // The task saw them as its environment.
    const logs = await readLogs(client, 'gh-push', run.id, 'env');
    expect(logs.trim().split('\n')).toEqual(Object.entries(expected).map(([k, v]) => `${k}=${v}`).sort());
    expect(await runCount('gh-pr')).toBe(0);
    const { trigger } = await client.getTrigger({ name: 'github' });
    expect(trigger!.subscriptions.find((s) => s.pipelineId === 'gh-push')?.lastEventKey).toBe(id);
  });

  it('a signed pull_request starts a run with the pull request variables', async () => {
    const id = randomUUID();
    const answer = await post(PULL_REQUEST, delivery('pull_request', PULL_REQUEST, id));
    expect(answer).toEqual({ status: 202, message: 'event pull_request/synchronize of Codertocat/Hello-World: 1 run(s) started, 0 duplicate(s) for 1 matching subscription(s)' });
    const { runs } = await client.listRuns({ namespaceId: 'default', pipelineId: 'gh-pr', limit: 0, offset: 0, states: [], statuses: [], startedBy: '' });
    expect(runs).toHaveLength(1);
    const { run } = await waitForRun(client, 'gh-pr', runs[0]!.id);
    const expected = {
      GOFER_TRIGGER_GITHUB_EVENT: 'pull_request',
      GOFER_TRIGGER_GITHUB_DELIVERY: id,
      GOFER_TRIGGER_GITHUB_ACTION: 'synchronize',
      GOFER_TRIGGER_GITHUB_REPOSITORY: 'Codertocat/Hello-World',
      GOFER_TRIGGER_GITHUB_SENDER: 'Codertocat',
      GOFER_TRIGGER_GITHUB_REF: 'refs/pull/2/head',
      GOFER_TRIGGER_GITHUB_SHA: '34c5c7793cb3b279e22454cb6750c80560547b3a',
      GOFER_TRIGGER_GITHUB_PULL_REQUEST: '2',
      GOFER_TRIGGER_GITHUB_HEAD_REF: 'changes',
      GOFER_TRIGGER_GITHUB_BASE_REF: 'master',
    };
    expect(run.variables).toEqual(expected);
    expect(run.startedBy).toBe('trigger/github/pr');
    const logs = await readLogs(client, 'gh-pr', run.id, 'env');
    expect(logs.trim().split('\n')).toEqual(Object.entries(expected).map(([k, v]) => `${k}=${v}`).sort());
    expect(await runCount('gh-push')).toBe(1);
  });

  it('a tampered body, a wrong signature and a missing signature get 401 and start nothing', async () => {
    const before = await allRuns();
    const tampered = Buffer.from(PUSH.toString('utf8').replace('0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c', '1111111111111111111111111111111111111111'));
    expect(tampered.equals(PUSH)).toBe(false);
    const cases: Array<[string, Buffer, Record<string, string>]> = [
      ['tampered body', tampered, delivery('push', PUSH)],
      ['signed with another secret', PUSH, delivery('push', PUSH, randomUUID(), `${SECRET}x`)],
      ['a SHA-1 signature only', PUSH, { ...delivery('push', PUSH), 'x-hub-signature-256': '', 'x-hub-signature': `sha1=${createHmac('sha1', SECRET).update(PUSH).digest('hex')}` }],
      ['no signature header', PUSH, Object.fromEntries(Object.entries(delivery('push', PUSH)).filter(([k]) => k !== 'x-hub-signature-256'))],
      ['a malformed signature', PUSH, { ...delivery('push', PUSH), 'x-hub-signature-256': 'sha256=zz' }],
    ];
    for (const [what, body, headers] of cases) {
      const answer = await post(body, headers);
      expect(answer.status, `${what}: ${answer.message}`).toBe(401);
    }
    // Nothing is on its way either: the posts happen before the answer, and there were none.
    expect(await allRuns()).toBe(before);
  });

  it('deliveries the subscriptions filter out start nothing', async () => {
    const before = await allRuns();
    const issues = JSON.stringify({ action: 'opened', issue: { number: 1 }, repository: { full_name: 'Codertocat/Hello-World' }, sender: { login: 'Codertocat' } });
    const otherRepository = Buffer.from(PUSH.toString('utf8').replaceAll('Codertocat/Hello-World', 'someone/else'));
    const closed = Buffer.from(PULL_REQUEST.toString('utf8').replace('"action": "synchronize"', '"action": "closed"'));
    expect(closed.equals(PULL_REQUEST)).toBe(false);
    const filtered: Array<[string, string | Buffer, string]> = [
      ['issues', issues, 'no subscription matched event issues/opened of Codertocat/Hello-World; nothing started'],
      ['push', otherRepository, 'no subscription matched event push of someone/else; nothing started'],
      ['pull_request', closed, 'no subscription matched event pull_request/closed of Codertocat/Hello-World; nothing started'],
    ];
    for (const [event, body, message] of filtered) expect(await post(body, delivery(event, body))).toEqual({ status: 200, message });
    const ping = JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 });
    expect((await post(ping, delivery('ping', ping))).status).toBe(200);
    expect(await allRuns()).toBe(before);
  });

  it('the same delivery posted twice, or ten times at once to two API processes, starts one run', async () => {
    const id = randomUUID();
    const before = await runCount('gh-push');
    const first = await post(PUSH, delivery('push', PUSH, id));
    expect(first.message).toContain('1 run(s) started, 0 duplicate(s)');
    const again = await post(PUSH, delivery('push', PUSH, id));
    expect(again).toEqual({ status: 202, message: expect.stringContaining('0 run(s) started, 1 duplicate(s)') });
    expect(await runCount('gh-push')).toBe(before + 1);

    // GitHub redelivering one delivery while Gofer runs two API replicas behind a load balancer.
    const burst = randomUUID();
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => post(PUSH, delivery('push', PUSH, burst), { via: i % 2 === 0 ? api : secondApi })));
    for (const answer of answers) expect(answer.status, answer.message).toBe(202);
    expect(answers.filter((a) => a.message.includes('1 run(s) started')), answers.map((a) => a.message).join('\n')).toHaveLength(1);
    expect(answers.filter((a) => a.message.includes('0 run(s) started, 1 duplicate(s)'))).toHaveLength(9);
    const { runs } = await client.listRuns({ namespaceId: 'default', pipelineId: 'gh-push', limit: 0, offset: 0, states: [], statuses: [], startedBy: '' });
    expect(runs).toHaveLength(before + 2);
    expect(runs.filter((r) => r.variables.GOFER_TRIGGER_GITHUB_DELIVERY === burst)).toHaveLength(1);
    expect(runs.filter((r) => r.variables.GOFER_TRIGGER_GITHUB_DELIVERY === id)).toHaveLength(1);
    const stored = await cluster.query<{ count: string }>(
      `SELECT count(*) FROM runs WHERE pipeline_id = 'gh-push' AND idempotency_key = $1`,
      [`trigger/push/${burst}`],
    );
    expect(Number(stored[0]!.count)).toBe(1);
  });

  it('refuses an oversized body with 413, without reading it whole', async () => {
    const before = await allRuns();
    // A signed push padded past GOFER_WEBHOOK_MAX_BYTES.
    const padded = Buffer.from(JSON.stringify({ ...JSON.parse(PUSH.toString('utf8')), padding: 'x'.repeat(MAX_BYTES) }));
    const answer = await post(padded, delivery('push', padded));
    expect(answer.status).toBe(413);
    expect(answer.message).toContain('GOFER_WEBHOOK_MAX_BYTES');
    // One that announces 64 MiB and sends 10 bytes is answered at once, on either API process.
    for (const via of [api, secondApi]) {
      const [host, port] = via.httpAddr.split(':');
      const status = await new Promise<number>((resolve, reject) => {
        const request = httpRequest(
          { host, port: Number(port), method: 'POST', path: '/api/external/github', headers: { ...delivery('push', 'x'), 'content-length': String(64 * 1024 * 1024) } },
          (response) => {
            response.resume();
            resolve(response.statusCode ?? 0);
          },
        );
        request.on('error', reject);
        request.write('x'.repeat(10));
      });
      expect(status).toBe(413);
    }
    expect(await allRuns()).toBe(before);
  });

  it('a github trigger installed without a secret refuses to start; `trigger get` shows it failing, and why', async () => {
    const { trigger: github } = await client.getTrigger({ name: 'github' });
    await client.installTrigger({ name: 'gh-nosecret', image: github!.image, settings: {} });
    const seen = new Set<string>();
    // Its process exits 1 at once; the engine restarts it (with backoff) and the supervisor reports it.
    const failing = await waitFor('the secretless trigger to be reported failing', async () => {
      const { trigger } = await client.getTrigger({ name: 'gh-nosecret' });
      seen.add(trigger!.state);
      return trigger!.state === 'TRIGGER_STATE_FAILING' && trigger!.restarts >= 1 ? trigger! : undefined;
    }, 60_000);
    console.log(`gh-nosecret: ${failing.state}, restarts ${failing.restarts}, last error: ${failing.lastError}`);
    expect(seen).not.toContain('TRIGGER_STATE_RUNNING');
    expect(failing.lastError).toMatch(/^its container exited with code 1 \(restarted \d+ times?\); see its logs: /);
    // The container's log says why, in one line.
    const container = docker.getContainer(failing.containerId);
    const logs = (await container.logs({ stdout: true, stderr: true })).toString();
    expect(logs).toContain('trigger-github: trigger gh-nosecret refused its install settings: settings.secret: required');
    expect((await container.inspect()).RestartCount).toBeGreaterThanOrEqual(1);
    // A webhook for it finds nobody home.
    expect((await post(PUSH, delivery('push', PUSH), { trigger: 'gh-nosecret' })).status).toBe(503);

    await client.uninstallTrigger({ name: 'gh-nosecret' });
    await waitFor('its container to be removed', async () => {
      const left = await docker.listContainers({ all: true, filters: { label: [`gofer.cluster=${await cluster.clusterId()}`, 'gofer.trigger=gh-nosecret'] } });
      return left.length === 0 ? true : undefined;
    });
  });
});
