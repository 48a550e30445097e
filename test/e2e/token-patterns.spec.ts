import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGoferClient, GrpcStatus, type GoferClient } from '@gofer/proto';
import { TestCluster, type GoferProcess } from '../support/gofer-process.js';

async function timed<T>(call: () => Promise<T>): Promise<{ ms: number; result: T | { code: number; details: string } }> {
  const started = Date.now();
  const result = await call().catch((error: { code: number; details: string }) => ({ code: error.code, details: error.details }));
  return { ms: Date.now() - started, result };
}

describe('namespace patterns of client tokens', () => {
  let cluster: TestCluster;
  let api: GoferProcess;
  let admin: GoferClient;

  beforeAll(async () => {
    cluster = await TestCluster.create('tokenpatterns');
    api = await cluster.start('api');
    admin = cluster.client();
  });
  afterAll(async () => cluster?.destroy());

  it('a pattern that backtracks catastrophically in JavaScript answers at once and stalls no other call', async () => {
    const { secret } = await admin.createToken({ kind: 'TOKEN_KIND_CLIENT' as never, namespaces: ['/(a+)+$/'], metadata: {}, expiresInSeconds: 0 });
    // Deadlines well under the time a backtracking matcher needs (2^31 steps for the 32 characters of the longest namespace id).
    const hostile = createGoferClient({ address: api.grpcAddr, token: secret, timeoutMs: 10_000 });
    const bystander = createGoferClient({ address: api.grpcAddr, token: cluster.token, timeoutMs: 10_000 });
    try {
      const list = (namespaceId: string) => () => hostile.listPipelines({ namespaceId, limit: 0, offset: 0 });
      const [refused, other] = await Promise.all([timed(list(`${'a'.repeat(31)}-`)), timed(() => bystander.whoAmI({}))]);
      expect(refused.result).toMatchObject({ code: GrpcStatus.PERMISSION_DENIED, details: expect.stringContaining('may not use namespace') });
      expect(other.result).toMatchObject({ token: { kind: 'TOKEN_KIND_MANAGEMENT' } });
      // The pattern still means what it says: 32 a's match it, so the call passes the token check.
      const allowed = await timed(() => hostile.getPipeline({ namespaceId: 'a'.repeat(32), id: 'none' }));
      expect(allowed.result).toMatchObject({ code: GrpcStatus.NOT_FOUND, details: expect.stringContaining('pipeline "none" not found') });
    } finally {
      hostile.close();
      bystander.close();
    }
    expect(api.child.exitCode).toBe(null);
  });

  it('refuses a pattern the linear-time matcher cannot run, saying why', async () => {
    const error = await admin
      .createToken({ kind: 'TOKEN_KIND_CLIENT' as never, namespaces: ['team-a', '/(?!prod).*/'], metadata: {}, expiresInSeconds: 0 })
      .catch((e: { code: number; details: string }) => e);
    expect(error).toMatchObject({
      code: GrpcStatus.INVALID_ARGUMENT,
      details: expect.stringMatching(/^namespaces\[1\]: "\/\(\?!prod\)\.\*\/" is not a valid regular expression \(.*\); patterns use RE2 syntax: no lookaround or backreferences$/),
    });
  });

  it('keeps honouring patterns stored before, and fails closed on one RE2 cannot run', async () => {
    const { secret, token } = await admin.createToken({ kind: 'TOKEN_KIND_CLIENT' as never, namespaces: ['/tea.*/'], metadata: {}, expiresInSeconds: 0 });
    await admin.createNamespace({ id: 'team-b', name: 'Team B', description: '' });
    const client = createGoferClient({ address: api.grpcAddr, token: secret, timeoutMs: 10_000 });
    try {
      expect((await client.listPipelines({ namespaceId: 'team-b', limit: 0, offset: 0 })).pipelines).toEqual([]);
      // A pattern an older release accepted (JavaScript syntax) that RE2 cannot run: it grants nothing.
      await cluster.query('UPDATE tokens SET namespaces = $1 WHERE id = $2', [JSON.stringify(['/(?!prod)team-b/']), token!.id]);
      await new Promise((resolve) => setTimeout(resolve, 2500)); // verified tokens are remembered for 2 s
      const refused = await timed(() => client.listPipelines({ namespaceId: 'team-b', limit: 0, offset: 0 }));
      expect(refused.result).toMatchObject({ code: GrpcStatus.PERMISSION_DENIED });
    } finally {
      client.close();
    }
  });
});
