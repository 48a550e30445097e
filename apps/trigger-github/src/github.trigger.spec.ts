import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sign, verify } from '@octokit/webhooks-methods';
import { SettingsError, subscriptionKey, type ExternalRequest, type GoferHandle, type PostResult, type Subscription, type TriggerEvent } from '@gofer/sdk';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { matches, parseGithubFilter } from './github-filter.js';
import { githubTrigger } from './github.trigger.js';

const SECRET = 'webhook-secret-for-tests';
const fixture = (name: string): Buffer => readFileSync(join(import.meta.dirname, '../test-fixtures', name));
const PUSH = fixture('push.json');
const PULL_REQUEST = fixture('pull_request.json');

type Post = { ref: string; event: TriggerEvent };

/** Gofer behind GoferHandle.post: records posts and dedupes by key; `answer` decides each outcome. */
function fakeGofer(settings: Record<string, string> = { secret: SECRET }, answer?: (post: Post) => Promise<PostResult>) {
  const posts: Post[] = [];
  const seen = new Set<string>();
  const gofer: GoferHandle = {
    post: async (ref, event) => {
      const post = { ref: subscriptionKey(ref), event };
      posts.push(post);
      if (answer) return answer(post);
      const id = `${post.ref} ${event.idempotencyKey}`;
      if (seen.has(id)) return { outcome: 'duplicate', runId: 1 };
      seen.add(id);
      return { outcome: 'started', runId: posts.length };
    },
    settings,
    subscriptions: () => [],
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    signal: new AbortController().signal,
  };
  return { gofer, posts };
}

function subscription(label: string, settings: Record<string, string> = {}): Subscription {
  const ref = { namespaceId: 'default', pipelineId: 'ci', label };
  return { ...ref, key: subscriptionKey(ref), settings, created: new Date() };
}

async function delivery(payload: Buffer, event: string, headers: Record<string, string | undefined> = {}): Promise<ExternalRequest> {
  const all: Record<string, string | undefined> = {
    'content-type': 'application/json',
    'x-github-event': event,
    'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958',
    'x-hub-signature-256': await sign(SECRET, payload.toString('utf8')),
    ...headers,
  };
  return { method: 'POST', payload, headers: Object.fromEntries(Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined)) };
}

/** A trigger holding `subscriptions`, served by a fake Gofer. */
async function served(subscriptions: Subscription[], answer?: (post: Post) => Promise<PostResult>, options = {}) {
  const trigger = githubTrigger(options);
  const gofer = fakeGofer(undefined, answer);
  await trigger.start!(gofer.gofer);
  for (const s of subscriptions) await trigger.subscribe(s, gofer.gofer);
  return { send: (request: ExternalRequest) => trigger.externalEvent!(request, gofer.gofer), posts: gofer.posts, trigger, gofer: gofer.gofer };
}

describe('signatures', () => {
  it("GitHub's documented test vector verifies", async () => {
    const signature = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
    expect(await verify("It's a Secret to Everybody", 'Hello, World!', signature)).toBe(true);
    // Through the trigger: the signature passes, and the body is then refused as not JSON (not 401).
    const trigger = githubTrigger();
    const gofer = fakeGofer({ secret: "It's a Secret to Everybody" });
    const response = await trigger.externalEvent!(
      { method: 'POST', payload: Buffer.from('Hello, World!'), headers: { 'x-hub-signature-256': signature, 'x-github-event': 'push', 'x-github-delivery': 'd1' } },
      gofer.gofer,
    );
    expect(response.status).toBe(400);
    expect(response.message).toContain('not JSON');
  });

  const refused: Array<{ name: string; request: () => Promise<ExternalRequest>; message: string }> = [
    {
      name: 'a tampered body',
      request: async () => ({ ...(await delivery(PUSH, 'push')), payload: Buffer.from(PUSH.toString().replace('refs/heads/main', 'refs/heads/evil')) }),
      message: 'does not match',
    },
    { name: 'a wrong signature', request: () => delivery(PUSH, 'push', { 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` }), message: 'does not match' },
    { name: 'a signature with another secret', request: async () => delivery(PUSH, 'push', { 'x-hub-signature-256': await sign('other', PUSH.toString()) }), message: 'does not match' },
    { name: 'a SHA-1 signature only', request: () => delivery(PUSH, 'push', { 'x-hub-signature-256': undefined, 'x-hub-signature': 'sha1=abc' }), message: 'missing X-Hub-Signature-256' },
    { name: 'a missing signature', request: () => delivery(PUSH, 'push', { 'x-hub-signature-256': undefined }), message: 'missing X-Hub-Signature-256' },
  ];
  it.each(refused)('$name gets 401 and starts nothing', async ({ request, message }) => {
    const { send, posts } = await served([subscription('push')]);
    const response = await send(await request());
    expect(response.status).toBe(401);
    expect(response.message).toContain(message);
    expect(posts).toEqual([]);
  });
});

describe('deliveries', () => {
  afterEach(() => vi.useRealTimers());

  const bad: Array<{ name: string; request: () => Promise<ExternalRequest>; status: number; message: string }> = [
    { name: 'no X-GitHub-Event', request: () => delivery(PUSH, 'push', { 'x-github-event': undefined }), status: 400, message: 'missing X-GitHub-Event' },
    { name: 'no X-GitHub-Delivery', request: () => delivery(PUSH, 'push', { 'x-github-delivery': undefined }), status: 400, message: 'missing X-GitHub-Delivery' },
    { name: 'a body that is not JSON', request: () => delivery(Buffer.from('{"ref":'), 'push'), status: 400, message: 'not JSON' },
    { name: 'a JSON array', request: () => delivery(Buffer.from('[]'), 'push'), status: 400, message: 'not a JSON object' },
    { name: 'a GET', request: async () => ({ ...(await delivery(PUSH, 'push')), method: 'GET' }), status: 405, message: 'POSTed' },
  ];
  it.each(bad)('$name gets $status and starts nothing', async ({ request, status, message }) => {
    const { send, posts } = await served([subscription('push')]);
    const response = await send(await request());
    expect(response).toMatchObject({ status });
    expect(response.message).toContain(message);
    expect(posts).toEqual([]);
  });

  it('answers ping with 200 and starts nothing', async () => {
    const { send, posts } = await served([subscription('push', { events: 'push ping' })]);
    const response = await send(await delivery(Buffer.from('{"zen":"Design for failure.","hook_id":1}'), 'ping'));
    expect(response).toMatchObject({ status: 200 });
    expect(posts).toEqual([]);
  });

  it('a push starts a run with its variables, keyed by the delivery id', async () => {
    const { send, posts } = await served([subscription('push')]);
    const response = await send(await delivery(PUSH, 'push'));
    expect(response.status).toBe(202);
    expect(response.message).toContain('1 run(s) started');
    expect(posts).toEqual([
      {
        ref: 'default/ci/push',
        event: {
          idempotencyKey: '72d3162e-cc78-11e3-81ab-4c9367dc0958',
          variables: {
            GOFER_TRIGGER_GITHUB_EVENT: 'push',
            GOFER_TRIGGER_GITHUB_DELIVERY: '72d3162e-cc78-11e3-81ab-4c9367dc0958',
            GOFER_TRIGGER_GITHUB_REPOSITORY: 'Codertocat/Hello-World',
            GOFER_TRIGGER_GITHUB_SENDER: 'Codertocat',
            GOFER_TRIGGER_GITHUB_REF: 'refs/heads/main',
            GOFER_TRIGGER_GITHUB_SHA: '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c',
          },
        },
      },
    ]);
  });

  it('a pull_request starts a run with its variables', async () => {
    const { send, posts } = await served([subscription('pr', { events: 'pull_request/opened,synchronize' })]);
    const response = await send(await delivery(PULL_REQUEST, 'pull_request', { 'x-github-delivery': 'f00d' }));
    expect(response.status).toBe(202);
    expect(posts.map((p) => p.event)).toEqual([
      {
        idempotencyKey: 'f00d',
        variables: {
          GOFER_TRIGGER_GITHUB_EVENT: 'pull_request',
          GOFER_TRIGGER_GITHUB_DELIVERY: 'f00d',
          GOFER_TRIGGER_GITHUB_ACTION: 'synchronize',
          GOFER_TRIGGER_GITHUB_REPOSITORY: 'Codertocat/Hello-World',
          GOFER_TRIGGER_GITHUB_SENDER: 'Codertocat',
          GOFER_TRIGGER_GITHUB_REF: 'refs/pull/2/head',
          GOFER_TRIGGER_GITHUB_SHA: '34c5c7793cb3b279e22454cb6750c80560547b3a',
          GOFER_TRIGGER_GITHUB_PULL_REQUEST: '2',
          GOFER_TRIGGER_GITHUB_HEAD_REF: 'changes',
          GOFER_TRIGGER_GITHUB_BASE_REF: 'master',
        },
      },
    ]);
  });

  it('reads a form-encoded delivery', async () => {
    const body = Buffer.from(new URLSearchParams({ payload: PUSH.toString() }).toString());
    const { send, posts } = await served([subscription('push')]);
    const response = await send(await delivery(body, 'push', { 'content-type': 'application/x-www-form-urlencoded' }));
    expect(response.status).toBe(202);
    expect(posts[0]!.event.variables!.GOFER_TRIGGER_GITHUB_SHA).toBe('0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c');
  });

  it('posts to every matching subscription, and a redelivery is a duplicate', async () => {
    const { send, posts } = await served([subscription('a'), subscription('b', { repository: 'codertocat/hello-world' }), subscription('c', { events: 'pull_request' })]);
    const first = await send(await delivery(PUSH, 'push'));
    expect(first).toMatchObject({ status: 202 });
    expect(first.message).toContain('2 run(s) started, 0 duplicate(s) for 2 matching subscription(s)');
    expect(posts.map((p) => p.ref).sort()).toEqual(['default/ci/a', 'default/ci/b']);
    const again = await send(await delivery(PUSH, 'push'));
    expect(again.message).toContain('0 run(s) started, 2 duplicate(s)');
  });

  it('a filtered-out delivery gets 200, "no subscription matched", and starts nothing', async () => {
    const { send, posts } = await served([subscription('push', { events: 'pull_request/opened', repository: 'other/repo' })]);
    const response = await send(await delivery(PULL_REQUEST, 'pull_request'));
    expect(response).toEqual({ status: 200, message: 'no subscription matched event pull_request/synchronize of Codertocat/Hello-World; nothing started' });
    expect(posts).toEqual([]);
  });

  it('answers 202 by the deadline while posts are still going', async () => {
    vi.useFakeTimers();
    const { send, posts } = await served([subscription('push')], () => new Promise(() => undefined));
    const response = send(await delivery(PUSH, 'push'));
    await vi.advanceTimersByTimeAsync(8_000);
    await expect(response).resolves.toMatchObject({ status: 202, message: expect.stringContaining('1 still being posted') });
    expect(posts).toHaveLength(1);
  });

  it('answers 502 when Gofer refused every post', async () => {
    const { send } = await served([subscription('push')], () => Promise.reject(new Error('NOT_FOUND: unknown subscription')));
    const response = await send(await delivery(PUSH, 'push'));
    expect(response.status).toBe(502);
    expect(response.message).toContain('1 failed (NOT_FOUND: unknown subscription)');
  });

  it('after unsubscribe a delivery matches nothing', async () => {
    const sub = subscription('push');
    const { send, posts, trigger, gofer } = await served([sub]);
    await trigger.unsubscribe(sub, gofer);
    expect((await send(await delivery(PUSH, 'push'))).status).toBe(200);
    expect(posts).toEqual([]);
  });
});

describe('install settings', () => {
  it.each<Record<string, string>>([{}, { secret: '' }, { secret: '   ' }])('refuses to start without a secret: %j', (settings) => {
    const trigger = githubTrigger();
    expect(() => trigger.start!(fakeGofer(settings).gofer)).toThrow(SettingsError);
    expect(() => trigger.start!(fakeGofer(settings).gofer)).toThrow(expect.objectContaining({ key: 'secret' }));
  });
});

describe('filters', () => {
  const cases: Array<{ events?: string; repository?: string; event: string; action?: string; repo?: string; match: boolean }> = [
    { event: 'push', repo: 'a/b', match: true },
    { event: 'pull_request', action: 'opened', match: false },
    { events: 'push pull_request/opened,synchronize', event: 'pull_request', action: 'synchronize', match: true },
    { events: 'push pull_request/opened,synchronize', event: 'pull_request', action: 'closed', match: false },
    { events: 'push;pull_request', event: 'pull_request', action: 'closed', match: true },
    { events: 'pull_request/opened pull_request', event: 'pull_request', action: 'closed', match: true },
    { events: 'pull_request/opened ; pull_request/closed', event: 'pull_request', action: 'closed', match: true },
    { events: 'pull_request/opened', event: 'pull_request', match: false },
    { events: 'release/published', event: 'release', action: 'published', match: true },
    { repository: 'Octo-Org/Hello', event: 'push', repo: 'octo-org/hello', match: true },
    { repository: 'octo-org/hello', event: 'push', repo: 'octo-org/hello-world', match: false },
    { repository: 'octo-org/hello', event: 'push', match: false },
  ];
  it.each(cases)('events $events, repository $repository: $event/$action of $repo → $match', ({ events, repository, event, action, repo, match }) => {
    const settings: Record<string, string> = {};
    if (events !== undefined) settings.events = events;
    if (repository !== undefined) settings.repository = repository;
    expect(matches(parseGithubFilter(settings), event, action, repo)).toBe(match);
  });

  const refused: Array<{ settings: Record<string, string>; key: string; message: string }> = [
    { settings: { events: 'Push' }, key: 'events', message: '"Push" is not "event" or "event/action1,action2"' },
    { settings: { events: 'pull_request/' }, key: 'events', message: '"pull_request/" is not' },
    { settings: { events: 'pull_request/opened,' }, key: 'events', message: 'is not' },
    { settings: { repository: 'hello' }, key: 'repository', message: '"hello" is not "owner/name"' },
    { settings: { repo: 'a/b' }, key: 'repo', message: 'unknown setting; github takes events, repository' },
  ];
  it.each(refused)('refuses $settings naming $key', ({ settings, key, message }) => {
    expect(() => parseGithubFilter(settings)).toThrow(expect.objectContaining({ key, message: expect.stringContaining(message) }));
  });
});
