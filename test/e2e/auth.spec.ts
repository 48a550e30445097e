import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGoferClient, GrpcStatus, type GoferClient } from '@gofer/proto';
import { TestCluster, type GoferProcess } from '../support/gofer-process.js';
import { apply } from '../support/runs.js';

/** One call per RPC group; each would change something if it were allowed. */
const CALLS: Array<[string, (client: GoferClient) => Promise<unknown>]> = [
  ['tokens: WhoAmI', (c) => c.whoAmI({})],
  ['pipelines: ApplyPipelineConfig', (c) => c.applyPipelineConfig({ namespaceId: 'default', config: Buffer.from('id: intruder\ntasks:\n  - { id: a, image: busybox:latest }\n'), format: 'CONFIG_FORMAT_UNSPECIFIED' as never })],
  ['pipelines: DeletePipeline', (c) => c.deletePipeline({ namespaceId: 'default', id: 'guarded' })],
  ['pipelines: ListPipelines', (c) => c.listPipelines({ namespaceId: 'default', limit: 0, offset: 0 })],
  ['runs: StartRun', (c) => c.startRun({ namespaceId: 'default', pipelineId: 'guarded', variables: {} })],
  ['runs: ListRuns', (c) => c.listRuns({ namespaceId: 'default', pipelineId: 'guarded', limit: 0, offset: 0, states: [], statuses: [], startedBy: '' })],
  ['task runs: ListTaskRuns', (c) => c.listTaskRuns({ namespaceId: 'default', pipelineId: 'guarded', runId: 1 })],
  ['task runs: GetTaskRunLogs', async (c) => {
    for await (const _ of c.getTaskRunLogs({ namespaceId: 'default', pipelineId: 'guarded', runId: 1, taskId: 'a', attempt: 0, follow: false, offset: 0, tail: 0, limit: 0 })) {
      // drain
    }
  }],
  ['tokens: CreateToken', (c) => c.createToken({ kind: 'TOKEN_KIND_MANAGEMENT' as never, namespaces: [], metadata: {}, expiresInSeconds: 0 })],
  ['tokens: ListTokens', (c) => c.listTokens({})],
  ['namespaces: CreateNamespace', (c) => c.createNamespace({ id: 'intruders', name: '', description: '' })],
  ['namespaces: DeleteNamespace', (c) => c.deleteNamespace({ id: 'guarded-ns', force: true })],
  ['objects: PutPipelineObject', (c) => c.putPipelineObject({ namespaceId: 'default', pipelineId: 'guarded', key: 'planted' }, Buffer.from('x'))],
  ['objects: GetPipelineObject', async (c) => {
    for await (const _ of c.getPipelineObject({ namespaceId: 'default', pipelineId: 'guarded', key: 'kept' })) {
      // drain
    }
  }],
  ['objects: DeletePipelineObject', (c) => c.deletePipelineObject({ namespaceId: 'default', pipelineId: 'guarded', key: 'kept' })],
  ['secrets: PutPipelineSecret', (c) => c.putPipelineSecret({ namespaceId: 'default', pipelineId: 'guarded', key: 'PLANTED', value: 'x' })],
  ['secrets: GetPipelineSecret', (c) => c.getPipelineSecret({ namespaceId: 'default', pipelineId: 'guarded', key: 'KEPT', includeValue: true })],
  ['secrets: PutGlobalSecret', (c) => c.putGlobalSecret({ key: 'PLANTED', value: 'x', namespaces: ['default'] })],
  ['events: ListEvents', async (c) => {
    for await (const _ of c.listEvents({ afterId: 0, follow: false, namespaceId: '', skipExisting: false, last: 0 })) {
      // drain
    }
  }],
];

/** Calls a client token of another namespace may still make (they concern only the token itself or are filtered). */
const ALLOWED_FOR_ANY_TOKEN = new Set(['tokens: WhoAmI', 'events: ListEvents']);

async function statusOf(call: () => Promise<unknown>): Promise<{ code: number; details: string } | 'ok'> {
  try {
    await call();
    return 'ok';
  } catch (error) {
    const e = error as { code?: number; details?: string; message?: string };
    return { code: e.code ?? -1, details: e.details ?? e.message ?? '' };
  }
}

describe('every RPC needs a valid token allowed where it acts', () => {
  let cluster: TestCluster;
  let api: GoferProcess;
  let admin: GoferClient;
  const tokens: Record<string, string> = {};
  let before: string;

  /** Everything the calls above could change, as one string. */
  const snapshot = async () =>
    JSON.stringify(await Promise.all([
      cluster.query("SELECT namespace_id, id, state, latest_version FROM pipelines ORDER BY id"),
      cluster.query('SELECT namespace_id, pipeline_id, id FROM runs ORDER BY id'),
      cluster.query('SELECT id, kind, disabled FROM tokens ORDER BY id'),
      cluster.query('SELECT id FROM namespaces ORDER BY id'),
      cluster.query('SELECT key, size, sha256 FROM objects ORDER BY key'),
      cluster.query('SELECT namespace_id, pipeline_id, key, ciphertext FROM secrets ORDER BY key'),
    ]));

  beforeAll(async () => {
    cluster = await TestCluster.create('auth');
    api = await cluster.start('api');
    admin = cluster.client();
    await apply(admin, 'id: guarded\ntasks:\n  - { id: a, image: busybox:latest }\n');
    await admin.createNamespace({ id: 'guarded-ns', name: 'Guarded', description: '' });
    await admin.createNamespace({ id: 'other', name: 'Other', description: '' });
    await admin.putPipelineObject({ namespaceId: 'default', pipelineId: 'guarded', key: 'kept' }, Buffer.from('kept'));
    await admin.putPipelineSecret({ namespaceId: 'default', pipelineId: 'guarded', key: 'KEPT', value: 'kept-value' });
    const issue = (kind: string, namespaces: string[], expiresInSeconds = 0) =>
      admin.createToken({ kind: kind as never, namespaces, metadata: {}, expiresInSeconds });
    tokens.expired = (await issue('TOKEN_KIND_MANAGEMENT', [], 1)).secret;
    const disabled = await issue('TOKEN_KIND_MANAGEMENT', []);
    await admin.disableToken({ id: disabled.token!.id });
    tokens.disabled = disabled.secret;
    tokens.otherNamespace = (await issue('TOKEN_KIND_CLIENT', ['other', '/oth.*/'])).secret;
    tokens.malformed = 'not-a-gofer-token';
    tokens.unknown = `gofer_${'A'.repeat(43)}`;
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the 1 s token expires
    before = await snapshot();
  });
  afterAll(async () => cluster?.destroy());

  const cases: Array<[string, string | undefined, RegExp]> = [
    ['no token', undefined, /needs an API token/],
    ['a malformed token', 'malformed', /malformed/],
    ['an unknown token', 'unknown', /not known/],
    ['an expired token', 'expired', /expired/],
    ['a disabled token', 'disabled', /disabled/],
  ];

  it.each(cases)('%s gets UNAUTHENTICATED from every RPC group', async (_name, which, message) => {
    const client = createGoferClient({ address: api.grpcAddr, timeoutMs: 30_000, token: which ? tokens[which] : undefined });
    try {
      for (const [call, invoke] of CALLS) {
        const result = await statusOf(() => invoke(client));
        expect(result, call).toMatchObject({ code: GrpcStatus.UNAUTHENTICATED, details: expect.stringMatching(message) });
      }
    } finally {
      client.close();
    }
    expect(await snapshot()).toBe(before);
  });

  it("a client token of another namespace gets PERMISSION_DENIED and changes nothing", async () => {
    const client = createGoferClient({ address: api.grpcAddr, timeoutMs: 30_000, token: tokens.otherNamespace });
    try {
      for (const [call, invoke] of CALLS) {
        const result = await statusOf(() => invoke(client));
        if (ALLOWED_FOR_ANY_TOKEN.has(call)) expect(result, call).toBe('ok');
        else expect(result, call).toMatchObject({ code: GrpcStatus.PERMISSION_DENIED });
      }
      // What it may see is filtered to its namespaces.
      expect((await client.listNamespaces({ limit: 0, offset: 0 })).namespaces.map((n) => n.id)).toEqual(['other']);
      const seen: string[] = [];
      for await (const { event } of client.listEvents({ afterId: 0, follow: false, namespaceId: '', skipExisting: false, last: 0 })) seen.push(event!.namespaceId);
      expect(seen.every((ns) => ns === 'other')).toBe(true);
      expect((await client.whoAmI({})).token?.namespaces).toEqual(['other', '/oth.*/']);
    } finally {
      client.close();
    }
    expect(await snapshot()).toBe(before);
  });

  it('bootstrap works once: the second is refused', async () => {
    const anonymous = createGoferClient({ address: api.grpcAddr, timeoutMs: 30_000 });
    try {
      expect(await statusOf(() => anonymous.bootstrapToken({}))).toMatchObject({
        code: GrpcStatus.FAILED_PRECONDITION, details: expect.stringContaining('already issued'),
      });
    } finally {
      anonymous.close();
    }
    expect((await admin.getSystemInfo({})).bootstrapTokenCreated).toBe(true);
  });

  it('a management token may do everything; a deleted token stops working at once', async () => {
    const { secret, token } = await admin.createToken({ kind: 'TOKEN_KIND_CLIENT' as never, namespaces: ['default'], metadata: { who: 'ci' }, expiresInSeconds: 0 });
    const client = createGoferClient({ address: api.grpcAddr, timeoutMs: 30_000, token: secret });
    try {
      expect((await client.listPipelines({ namespaceId: 'default', limit: 0, offset: 0 })).pipelines.map((p) => p.id)).toContain('guarded');
      expect((await client.whoAmI({})).token).toMatchObject({ id: token!.id, kind: 'TOKEN_KIND_CLIENT', metadata: { who: 'ci' } });
      await admin.deleteToken({ id: token!.id });
      expect(await statusOf(() => client.listPipelines({ namespaceId: 'default', limit: 0, offset: 0 }))).toMatchObject({ code: GrpcStatus.UNAUTHENTICATED });
    } finally {
      client.close();
    }
  });

  it('rejects bad token requests with every problem named', async () => {
    const result = await statusOf(() =>
      admin.createToken({ kind: 'TOKEN_KIND_CLIENT' as never, namespaces: ['/([/', 'UPPER'], metadata: { 'bad key': 'x' }, expiresInSeconds: -5 }),
    );
    expect(result).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT });
    const details = (result as { details: string }).details;
    expect(details).toContain('namespaces[0]: "/([/" is not a valid regular expression');
    expect(details).toContain('namespaces[1]: "UPPER" is neither a namespace id nor a /regular expression/');
    expect(details).toContain('metadata.bad key');
    expect(details).toContain('expires_in_seconds: -5');
  });
});
