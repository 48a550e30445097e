// GoferHandle.post over a real socket, against a stand-in for Gofer: a gRPC server built from the
// real gofer.v1.Gofer service definition (proto/gofer/v1/gofer.proto) implementing only
// PostTriggerEvent, so the SDK's hand-built client is checked against the service Gofer serves.
import { randomUUID } from 'node:crypto';
import { Server, ServerCredentials, status, type Metadata, type sendUnaryData, type ServerUnaryCall, type ServiceDefinition } from '@grpc/grpc-js';
import { GOFER_PACKAGE, GOFER_SERVICE, loadGoferPackageDefinition } from '@gofer/proto';
import { GoferPostError, serveTrigger, type TriggerDefinition, type TriggerLogger, type TriggerServer } from '@gofer/sdk';
import { afterEach, describe, expect, it } from 'vitest';

const KEY = `key-${randomUUID()}`;
const REF = { namespaceId: 'default', pipelineId: 'deploy', label: 'on_push' };

type Answer = { error: { code: status; details: string } } | { response: { outcome: string; runId: number } } | 'hold';

/** A stand-in for Gofer's event RPC: answers each request with the next scripted answer (the last one repeats). */
class StandInGofer {
  readonly requests: { request: Record<string, unknown>; metadata: Metadata }[] = [];
  private readonly held: sendUnaryData<unknown>[] = [];
  private server = new Server();
  port = 0;

  constructor(private readonly answers: Answer[]) {}

  async start(): Promise<this> {
    const service = loadGoferPackageDefinition()[`${GOFER_PACKAGE}.${GOFER_SERVICE}`] as ServiceDefinition;
    this.server.addService(service, {
      PostTriggerEvent: (call: ServerUnaryCall<Record<string, unknown>, unknown>, callback: sendUnaryData<unknown>) => {
        this.requests.push({ request: call.request, metadata: call.metadata });
        const answer = this.answers.length > 1 ? this.answers.shift()! : this.answers[0]!;
        if (answer === 'hold') this.held.push(callback);
        else if ('error' in answer) callback(answer.error);
        else callback(null, answer.response);
      },
    });
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
    );
    return this;
  }

  stop(): void {
    for (const callback of this.held.splice(0)) callback({ code: status.CANCELLED, details: 'test over' });
    this.server.forceShutdown();
  }
}

const quiet: TriggerLogger = { info() {}, warn() {}, error() {} };
const definition: TriggerDefinition = { name: 'webhooks', subscribe() {}, unsubscribe() {} };
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function setUp(answers: Answer[], post = {}): Promise<{ gofer: StandInGofer; trigger: TriggerServer }> {
  const gofer = await new StandInGofer(answers).start();
  cleanup.push(() => gofer.stop());
  const trigger = await serveTrigger(definition, {
    name: 'github',
    key: KEY,
    port: 0,
    host: '127.0.0.1',
    goferHost: `127.0.0.1:${gofer.port}`,
    env: {},
    handleSignals: false,
    logger: quiet,
    post: { minDelayMs: 5, maxDelayMs: 20, ...post },
  });
  cleanup.push(() => trigger.close());
  return { gofer, trigger };
}

const started = (runId: number): Answer => ({ response: { outcome: 'TRIGGER_EVENT_OUTCOME_STARTED', runId } });
const failure = (code: status, details: string): Answer => ({ error: { code, details } });

describe('GoferHandle.post', () => {
  it('sends the key and the event, and maps the outcome', async () => {
    const { gofer, trigger } = await setUp([
      started(12),
      { response: { outcome: 'TRIGGER_EVENT_OUTCOME_DUPLICATE', runId: 12 } },
      { response: { outcome: 'TRIGGER_EVENT_OUTCOME_PIPELINE_DISABLED', runId: 0 } },
    ]);
    const event = { idempotencyKey: 'delivery-1', variables: { GOFER_TRIGGER_GITHUB_SHA: 'abc' }, checkpoint: 'cp' };
    // A full Subscription works as a ref: only its ref fields are sent.
    const subscription = { ...REF, key: 'default/deploy/on_push', settings: { events: 'push' }, created: new Date() };
    expect(await trigger.gofer.post(subscription, event)).toEqual({ outcome: 'started', runId: 12 });
    expect(await trigger.gofer.post(REF, event)).toEqual({ outcome: 'duplicate', runId: 12 });
    expect(await trigger.gofer.post(REF, { idempotencyKey: 'delivery-2' })).toEqual({ outcome: 'pipeline_disabled', runId: undefined });

    expect(gofer.requests.map(({ metadata }) => metadata.get('authorization'))).toEqual([[`Bearer ${KEY}`], [`Bearer ${KEY}`], [`Bearer ${KEY}`]]);
    expect(gofer.requests[0]!.request).toEqual({ trigger: 'github', ref: REF, idempotencyKey: 'delivery-1', variables: { GOFER_TRIGGER_GITHUB_SHA: 'abc' }, checkpoint: 'cp' });
    expect(gofer.requests[2]!.request).toEqual({ trigger: 'github', ref: REF, idempotencyKey: 'delivery-2', variables: {}, checkpoint: '' });
  });

  it('retries through transient failures until Gofer takes the event', async () => {
    const { gofer, trigger } = await setUp([
      failure(status.UNAVAILABLE, 'restarting'),
      failure(status.UNAVAILABLE, 'restarting'),
      failure(status.RESOURCE_EXHAUSTED, 'busy'),
      failure(status.ABORTED, 'serialization failure'),
      failure(status.INTERNAL, 'oops'),
      started(3),
    ]);
    expect(await trigger.gofer.post(REF, { idempotencyKey: 'fire-1' })).toEqual({ outcome: 'started', runId: 3 });
    expect(gofer.requests).toHaveLength(6);
    expect(new Set(gofer.requests.map(({ request }) => request.idempotencyKey))).toEqual(new Set(['fire-1']));
  });

  it('retries an attempt that passes its deadline', async () => {
    const { gofer, trigger } = await setUp(['hold', started(4)], { attemptTimeoutMs: 500 });
    expect(await trigger.gofer.post(REF, { idempotencyKey: 'fire-2' })).toEqual({ outcome: 'started', runId: 4 });
    // The first attempt was held past its deadline; a slow machine may need more than one more.
    expect(gofer.requests.length).toBeGreaterThanOrEqual(2);
  });

  const permanent: [string, status][] = [
    ['UNAUTHENTICATED', status.UNAUTHENTICATED],
    ['NOT_FOUND', status.NOT_FOUND],
    ['INVALID_ARGUMENT', status.INVALID_ARGUMENT],
    ['FAILED_PRECONDITION', status.FAILED_PRECONDITION],
    ['PERMISSION_DENIED', status.PERMISSION_DENIED],
  ];
  it.each(permanent)('stops at once on %s with Gofer\'s message', async (name, code) => {
    const { gofer, trigger } = await setUp([failure(code, `gofer says ${name}`), started(1)]);
    const error = await trigger.gofer.post(REF, { idempotencyKey: 'k' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GoferPostError);
    expect([(error as GoferPostError).code, (error as GoferPostError).codeName]).toEqual([code, name]);
    expect((error as Error).message).toBe(`PostTriggerEvent to 127.0.0.1:${gofer.port} failed with ${name}: gofer says ${name}`);
    expect(gofer.requests).toHaveLength(1);
  });

  it('gives up once its retry time is spent, with the last failure', async () => {
    const { gofer, trigger } = await setUp([failure(status.UNAVAILABLE, 'still restarting')], { maxRetryTimeMs: 200 });
    const error = await trigger.gofer.post(REF, { idempotencyKey: 'k' }).catch((e: unknown) => e);
    expect((error as GoferPostError).codeName).toBe('UNAVAILABLE');
    expect((error as Error).message).toContain('still restarting');
    expect(gofer.requests.length).toBeGreaterThan(1);
  });

  it('stops retrying when the trigger shuts down', async () => {
    const { gofer, trigger } = await setUp([failure(status.UNAVAILABLE, 'restarting')]);
    const posting = trigger.gofer.post(REF, { idempotencyKey: 'k' }).catch((e: unknown) => e);
    await waitFor(() => gofer.requests.length >= 2);
    await trigger.close();
    const error = (await posting) as Error;
    expect([error.name, error.message]).toEqual(['AbortError', 'trigger github is shutting down']);
    await expect(trigger.gofer.post(REF, { idempotencyKey: 'k' })).rejects.toThrow('trigger github is shutting down');
  });

  it('cancels the attempt in flight when the caller aborts', async () => {
    const { gofer, trigger } = await setUp(['hold']);
    const controller = new AbortController();
    const posting = trigger.gofer.post(REF, { idempotencyKey: 'k' }, controller.signal).catch((e: unknown) => e);
    await waitFor(() => gofer.requests.length === 1);
    controller.abort(new Error('webhook deadline'));
    expect(((await posting) as Error).message).toBe('webhook deadline');
    expect(gofer.requests).toHaveLength(1);
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!condition()) throw new Error('condition not met in 10 s');
}
