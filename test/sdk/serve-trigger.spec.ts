// serveTrigger over a real socket: a gRPC client dials the trigger on 127.0.0.1 as Gofer would.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  serveTrigger,
  SettingsError,
  TriggerEnvironmentError,
  type ExternalRequest,
  type GoferHandle,
  type ServeTriggerOptions,
  type Subscription,
  type TriggerDefinition,
  type TriggerLogger,
  type TriggerServer,
} from '@gofer/sdk';
import { rejection, TriggerTestClient } from './trigger-test-client.js';

const KEY = `key-${randomUUID()}`;
const REF = { namespaceId: 'default', pipelineId: 'nightly', label: 'every_night' };

/** A definition that records what reaches it; `gate` (when set) holds subscribe until released. */
function recordingDefinition(overrides: Partial<TriggerDefinition> = {}) {
  const calls = {
    subscribe: [] as Subscription[],
    unsubscribe: [] as Subscription[],
    external: [] as ExternalRequest[],
    shutdown: 0,
    order: [] as string[],
  };
  let gate: Promise<void> | undefined;
  const definition: TriggerDefinition = {
    name: 'test',
    description: 'Records what Gofer asks of it.',
    settings: [{ key: 'expression', required: true, description: 'A cron expression, e.g. "0 3 * * *".' }],
    async subscribe(subscription) {
      calls.order.push('subscribe');
      await gate;
      if (subscription.settings.expression === 'bad') throw new SettingsError('expression', '"bad" is not a cron expression');
      if (subscription.settings.expression === 'worse') {
        throw new AggregateError([new SettingsError('expression', 'is not a cron expression'), new SettingsError('timezone', 'is not a time zone')]);
      }
      if (subscription.settings.expression === 'boom') throw new Error('the disk is full');
      calls.subscribe.push(subscription);
      calls.order.push('subscribed');
    },
    unsubscribe(subscription) {
      calls.unsubscribe.push(subscription);
    },
    externalEvent(request) {
      calls.external.push(request);
      return { status: 202, message: 'accepted' };
    },
    shutdown() {
      calls.shutdown++;
      calls.order.push('shutdown');
    },
    ...overrides,
  };
  const hold = () => {
    let release!: () => void;
    gate = new Promise((resolve) => (release = resolve));
    return () => {
      gate = undefined;
      release();
    };
  };
  return { definition, calls, hold };
}

const quiet: TriggerLogger = { info() {}, warn() {}, error() {} };

const servers: TriggerServer[] = [];
const clients: TriggerTestClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function serve(definition: TriggerDefinition, options: ServeTriggerOptions = {}): Promise<{ server: TriggerServer; client: TriggerTestClient }> {
  const server = await serveTrigger(definition, {
    key: KEY,
    port: 0,
    host: '127.0.0.1',
    goferHost: '127.0.0.1:1',
    env: {},
    handleSignals: false,
    logger: quiet,
    shutdownTimeoutMs: 5000,
    ...options,
  });
  servers.push(server);
  const client = new TriggerTestClient(server.port);
  clients.push(client);
  return { server, client };
}

const subscription = (settings: Record<string, string>, ref: object = REF) => ({ subscription: { ref, settings, checkpoint: '', created: 1_700_000_000_000 } });

describe('serveTrigger', () => {
  it('answers UNAUTHENTICATED without the key or with another, and never calls the definition', async () => {
    const { definition, calls } = recordingDefinition();
    const { client } = await serve(definition);
    const requests: [string, unknown][] = [
      ['info', {}],
      ['subscribe', subscription({ expression: '* * * * *' })],
      ['unsubscribe', { ref: REF }],
      ['externalEvent', { payload: Buffer.from('{}'), headers: {}, method: 'POST' }],
      ['shutdown', {}],
    ];
    for (const key of [undefined, 'wrong', `${KEY}x`, KEY.slice(0, -1), '']) {
      for (const [method, request] of requests) {
        const error = await rejection(client.call(method, request, key));
        expect(error.code, `${method} with key ${key}`).toBe(status.UNAUTHENTICATED);
      }
    }
    expect(calls).toMatchObject({ subscribe: [], unsubscribe: [], external: [], shutdown: 0, order: [] });
    // Still serving, and the right key works.
    expect((await client.call('info', {}, KEY)).name).toBe('test');
  });

  it('tells who it is in Info', async () => {
    const { definition } = recordingDefinition();
    const { server, client } = await serve(definition);
    expect(await client.call('info', {}, KEY)).toEqual({
      name: 'test',
      description: 'Records what Gofer asks of it.',
      instanceId: server.instanceId,
      subscriptions: 0,
      settings: [{ key: 'expression', required: true, description: 'A cron expression, e.g. "0 3 * * *".' }],
    });
    expect(server.instanceId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('hands subscriptions to the definition, replaces one on the same ref, and ends it', async () => {
    const { definition, calls } = recordingDefinition();
    const { server, client } = await serve(definition);

    await client.call('subscribe', subscription({ expression: '0 3 * * *' }), KEY);
    expect(calls.subscribe).toEqual([
      { ...REF, key: 'default/nightly/every_night', settings: { expression: '0 3 * * *' }, checkpoint: undefined, created: new Date(1_700_000_000_000) },
    ]);

    await client.call('subscribe', { subscription: { ref: REF, settings: { expression: '0 4 * * *' }, checkpoint: '2024-01-01T04:00:00Z', created: 1 } }, KEY);
    expect(calls.subscribe[1]).toMatchObject({ settings: { expression: '0 4 * * *' }, checkpoint: '2024-01-01T04:00:00Z', created: new Date(1) });
    const other = { ...REF, label: 'other' };
    await client.call('subscribe', subscription({ expression: '* * * * *' }, other), KEY);
    expect((await client.call('info', {}, KEY)).subscriptions).toBe(2);
    expect(server.gofer.subscriptions().map((s) => [s.key, s.settings.expression])).toEqual([
      ['default/nightly/every_night', '0 4 * * *'],
      ['default/nightly/other', '* * * * *'],
    ]);

    await client.call('unsubscribe', { ref: REF }, KEY);
    expect(calls.unsubscribe).toEqual([calls.subscribe[1]]);
    // Unknown subscriptions are not an error, and the definition only hears about held ones.
    await client.call('unsubscribe', { ref: REF }, KEY);
    await client.call('unsubscribe', { ref: { ...REF, pipelineId: 'unknown' } }, KEY);
    expect(calls.unsubscribe).toHaveLength(1);
    expect((await client.call('info', {}, KEY)).subscriptions).toBe(1);
  });

  it('turns SettingsErrors into INVALID_ARGUMENT, one line each, other errors into INTERNAL, and holds nothing', async () => {
    const { definition } = recordingDefinition();
    const { server, client } = await serve(definition);
    const bad = await rejection(client.call('subscribe', subscription({ expression: 'bad' }), KEY));
    expect(bad.code).toBe(status.INVALID_ARGUMENT);
    expect(bad.details).toBe('settings.expression: "bad" is not a cron expression');
    const worse = await rejection(client.call('subscribe', subscription({ expression: 'worse' }), KEY));
    expect(worse.details).toBe('settings.expression: is not a cron expression\nsettings.timezone: is not a time zone');
    const boom = await rejection(client.call('subscribe', subscription({ expression: 'boom' }), KEY));
    expect([boom.code, boom.details]).toEqual([status.INTERNAL, 'the disk is full']);
    expect(server.gofer.subscriptions()).toEqual([]);
  });

  it('refuses malformed requests with the field they lack and keeps serving', async () => {
    const { definition, calls } = recordingDefinition();
    const { client } = await serve(definition);
    const cases: [string, unknown, string][] = [
      ['subscribe', {}, 'subscription: is required'],
      ['subscribe', { subscription: { settings: {} } }, 'subscription.ref: is required'],
      ['subscribe', subscription({}, { namespaceId: 'default' }), 'subscription.ref.pipeline_id: is required\nsubscription.ref.label: is required'],
      ['unsubscribe', {}, 'ref: is required'],
      ['unsubscribe', { ref: { ...REF, namespaceId: '' } }, 'ref.namespace_id: is required'],
      ['subscribe', subscription(Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, 'v']))), 'subscription.settings: 10000 settings, at most 256'],
      ['subscribe', subscription({ expression: 'x'.repeat(100_000) }), 'subscription.settings.expression: value longer than 65536 characters'],
    ];
    for (const [method, request, details] of cases) {
      const error = await rejection(client.call(method, request, KEY));
      expect([error.code, error.details]).toEqual([status.INVALID_ARGUMENT, details]);
    }
    expect(calls.order).toEqual([]);
    expect((await client.call('info', {}, KEY)).subscriptions).toBe(0);
  });

  it('relays external events byte for byte, answers 404 without a handler, and refuses oversized ones', async () => {
    const { definition, calls } = recordingDefinition();
    const { client } = await serve(definition);
    const payload = randomBytes(5 * 1024 * 1024);
    const response = await client.call('externalEvent', { payload, headers: { 'x-hub-signature-256': 'sha256=ab' }, method: 'POST' }, KEY);
    expect(response).toEqual({ status: 202, message: 'accepted' });
    expect(calls.external).toHaveLength(1);
    const [received] = calls.external;
    expect(createHash('sha256').update(received!.payload).digest('hex')).toBe(createHash('sha256').update(payload).digest('hex'));
    expect([received!.headers, received!.method]).toEqual([{ 'x-hub-signature-256': 'sha256=ab' }, 'POST']);

    const tooBig = await rejection(client.call('externalEvent', { payload: Buffer.alloc(66 * 1024 * 1024), headers: {}, method: 'POST' }, KEY));
    expect(tooBig.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(calls.external).toHaveLength(1);
    expect((await client.call('info', {}, KEY)).name).toBe('test');

    const { definition: noWebhooks } = recordingDefinition({ externalEvent: undefined });
    const { client: other } = await serve(noWebhooks);
    expect(await other.call('externalEvent', { payload: Buffer.from('{}'), headers: {}, method: 'POST' }, KEY)).toEqual({
      status: 404,
      message: 'trigger test takes no external events',
    });
  });

  it('reports an invalid HTTP status from externalEvent as INTERNAL', async () => {
    const { definition } = recordingDefinition({ externalEvent: () => ({ status: 42, message: 'no' }) });
    const { client } = await serve(definition);
    const error = await rejection(client.call('externalEvent', { payload: Buffer.from(''), headers: {}, method: 'GET' }, KEY));
    expect([error.code, error.details]).toEqual([status.INTERNAL, 'externalEvent returned HTTP status 42; it must be an integer from 100 to 599']);
  });

  it('answers health checks without a key', async () => {
    const { definition } = recordingDefinition();
    const { client } = await serve(definition);
    expect(await client.check('')).toEqual({ status: 'SERVING' });
    expect(await client.check('gofer.v1.Trigger')).toEqual({ status: 'SERVING' });
  });

  it('runs the calls of one subscription in order', async () => {
    const { definition, calls, hold } = recordingDefinition();
    const { server, client } = await serve(definition);
    const release = hold();
    const subscribing = client.call('subscribe', subscription({ expression: '0 3 * * *' }), KEY);
    await waitFor(() => calls.order.includes('subscribe'));
    const unsubscribing = client.call('unsubscribe', { ref: REF }, KEY);
    // Info goes over the same HTTP/2 connection after Unsubscribe, so once it is answered the server has
    // taken Unsubscribe in, while Subscribe is still held.
    expect((await client.call('info', {}, KEY)).subscriptions).toBe(0);
    release();
    await Promise.all([subscribing, unsubscribing]);
    // Had Unsubscribe not waited for Subscribe, it would have found nothing to end.
    expect(calls.unsubscribe).toHaveLength(1);
    expect(server.gofer.subscriptions()).toEqual([]);
  });

  it('stops on Shutdown: aborts its signal, lets calls in flight finish, calls shutdown once', async () => {
    const { definition, calls, hold } = recordingDefinition();
    const { server, client } = await serve(definition);
    const release = hold();
    const subscribing = client.call('subscribe', subscription({ expression: '0 3 * * *' }), KEY);
    await waitFor(() => calls.order.includes('subscribe'));

    expect(await client.call('shutdown', {}, KEY)).toEqual({});
    expect(server.gofer.signal.aborted).toBe(true);
    const refused = await rejection(client.call('info', {}, KEY));
    expect(refused.code).toBe(status.UNAVAILABLE);
    expect(await client.check('')).toEqual({ status: 'NOT_SERVING' });

    release();
    await subscribing;
    await server.closed;
    await server.close();
    expect(calls.order).toEqual(['subscribe', 'subscribed', 'shutdown']);
    expect(calls.shutdown).toBe(1);
    expect((await rejection(client.call('info', {}, KEY))).code).toBe(status.UNAVAILABLE);
  });

  it('stops anyway when shutdown hangs and a health watcher stays connected', async () => {
    const warnings: string[] = [];
    const logger: TriggerLogger = { ...quiet, warn: (_fields, message) => warnings.push(message) };
    const { definition } = recordingDefinition({ shutdown: () => new Promise(() => {}) });
    const { server, client } = await serve(definition, { logger, shutdownTimeoutMs: 100 });
    const watcher = client.watch('');
    await waitFor(() => watcher.statuses.length > 0);
    await server.close();
    expect(warnings).toEqual(['definition.shutdown did not finish in time', 'calls still open at shutdown were cut']);
    expect(watcher.statuses).toEqual(['SERVING', 'NOT_SERVING']);
    expect((await rejection(client.call('info', {}, KEY))).code).toBe(status.UNAVAILABLE);
  });

  it('refuses to start without a key or a port, or when start refuses the install settings', async () => {
    const { definition, calls } = recordingDefinition();
    const missing = await serveTrigger(definition, { env: { GOFER_TRIGGER_NAME: 'mine' }, handleSignals: false, logger: quiet }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(TriggerEnvironmentError);
    expect((missing as Error).message).toMatch(/^trigger mine cannot start:\n {2}GOFER_TRIGGER_KEY is not set.*\n {2}GOFER_TRIGGER_PORT is not set/);

    const picky = { ...definition, start: () => { throw new SettingsError('webhook_secret', 'is required'); } };
    const refused = await serveTrigger(picky, { key: KEY, port: 0, env: {}, handleSignals: false, logger: quiet }).catch((e: unknown) => e);
    expect((refused as Error).message).toBe('trigger test refused its install settings:\n  settings.webhook_secret: is required (GOFER_TRIGGER_SETTING_WEBHOOK_SECRET)');
    expect(calls.order).toEqual([]);
  });

  it('starts with its environment: install settings, name, and a port it cannot bind is an error', async () => {
    let handle: GoferHandle | undefined;
    const { definition } = recordingDefinition({ start: (gofer) => void (handle = gofer) });
    const port = await busyPort();
    const env = { GOFER_TRIGGER_KEY: KEY, GOFER_TRIGGER_PORT: String(port.number), GOFER_TRIGGER_SETTING_WEBHOOK_SECRET: 's3cr3t', GOFER_HOST: '127.0.0.1:1' };
    const error = await serveTrigger(definition, { env, host: '127.0.0.1', handleSignals: false, logger: quiet }).catch((e: unknown) => e);
    port.close();
    expect((error as Error).message).toMatch(new RegExp(`^cannot serve the trigger on 127.0.0.1:${port.number}: `));
    expect(handle!.settings).toEqual({ webhook_secret: 's3cr3t' });
    expect(handle!.signal.aborted).toBe(true);
  });
});

/** A port some other socket listens on. */
async function busyPort(): Promise<{ number: number; close(): void }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { number: (server.address() as { port: number }).port, close: () => server.close() };
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!condition()) throw new Error('condition not met in 5 s');
}
