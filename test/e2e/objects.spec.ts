import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcStatus, type GoferClient } from '@gofer/proto';
import { TestCluster } from '../support/gofer-process.js';
import { apply, readLogs, startRun, waitForRun } from '../support/runs.js';
import { startS3, type TestS3 } from '../support/s3.js';

/** The first task stores a run object with the CLI inside its container; the second reads it back two ways. */
const PASS_VALUES = `
id: pass-values
tasks:
  - id: write
    image: gofer-test/cli:latest
    inject_api_token: true
    script: |
      echo "built at run $GOFER_RUN_ID" > /tmp/artifact
      gofer run object put pass-values $GOFER_RUN_ID artifact /tmp/artifact
  - id: read
    image: gofer-test/cli:latest
    depends_on: { write: success }
    inject_api_token: true
    variables: { FROM_ENV: "run_object{{artifact}}" }
    script: |
      printf 'env: %s' "$FROM_ENV"
      gofer run object get pass-values $GOFER_RUN_ID artifact
`;

async function download(stream: AsyncIterable<{ info?: unknown; chunk?: Uint8Array | null }>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const message of stream) if (message.chunk) chunks.push(Buffer.from(message.chunk));
  return Buffer.concat(chunks);
}

async function failure(call: Promise<unknown>): Promise<{ code: number; details: string }> {
  return call.then(
    () => ({ code: 0, details: 'succeeded' }),
    (error: { code: number; details: string }) => ({ code: error.code, details: error.details }),
  );
}

describe.each(['fs', 's3'] as const)('the object store on %s', (backend) => {
  let cluster: TestCluster;
  let client: GoferClient;
  let s3: TestS3 | undefined;

  beforeAll(async () => {
    const env: Record<string, string> = {
      GOFER_PIPELINE_OBJECT_LIMIT: '3',
      GOFER_RUN_OBJECT_EXPIRY: '2',
      GOFER_OBJECT_MAX_BYTES: String(1024 * 1024),
    };
    if (backend === 's3') {
      s3 = await startS3();
      Object.assign(env, {
        GOFER_OBJECT_STORE: `s3://${s3.bucket}/gofer`,
        GOFER_S3_ENDPOINT: s3.endpoint,
        GOFER_S3_ACCESS_KEY_ID: s3.accessKeyId,
        GOFER_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      });
    }
    cluster = await TestCluster.create(`objects_${backend}`, env);
    await cluster.start('api,worker');
    client = cluster.client();
  });
  afterAll(async () => {
    await cluster?.destroy();
    await s3?.close();
  });

  it('passes a value from one task to the next as a run object', async () => {
    await apply(client, PASS_VALUES);
    const run = await startRun(client, 'pass-values');
    const { run: done, tasks } = await waitForRun(client, 'pass-values', run.id);
    expect(done.status, JSON.stringify(tasks)).toBe('RUN_STATUS_SUCCESSFUL');
    expect(await readLogs(client, 'pass-values', run.id, 'read')).toBe(`env: built at run ${run.id}\nbuilt at run ${run.id}\n`);
    const { objects } = await client.listRunObjects({ namespaceId: 'default', pipelineId: 'pass-values', runId: run.id });
    const content = Buffer.from(`built at run ${run.id}\n`);
    expect(objects).toEqual([expect.objectContaining({ key: 'artifact', size: content.length, sha256: createHash('sha256').update(content).digest('hex') })]);
    // The tasks' token died with the run: nothing it could do is left.
    const [{ count }] = await cluster.query<{ count: string }>('SELECT count(*) FROM tokens WHERE run_id IS NOT NULL');
    expect(Number(count)).toBe(0);
  });

  it('keeps the newest N pipeline objects, evicting the oldest', async () => {
    await apply(client, 'id: keeper\ntasks:\n  - { id: a, image: busybox:latest }\n');
    const ref = { namespaceId: 'default', pipelineId: 'keeper' };
    const evicted: string[] = [];
    for (let i = 1; i <= 5; i++) {
      const response = await client.putPipelineObject({ ...ref, key: `obj-${i}` }, Buffer.from(`value ${i}`));
      evicted.push(...response.evicted);
    }
    expect(evicted).toEqual(['obj-1', 'obj-2']);
    expect((await client.listPipelineObjects(ref)).objects.map((o) => o.key)).toEqual(['obj-5', 'obj-4', 'obj-3']);
    expect((await download(client.getPipelineObject({ ...ref, key: 'obj-3' }))).toString()).toBe('value 3');
    expect(await failure(download(client.getPipelineObject({ ...ref, key: 'obj-1' })))).toMatchObject({ code: GrpcStatus.NOT_FOUND });
    // Replacing keeps one object under the key, with the new content.
    await client.putPipelineObject({ ...ref, key: 'obj-5' }, Buffer.from('replaced'));
    expect((await download(client.getPipelineObject({ ...ref, key: 'obj-5' }))).toString()).toBe('replaced');
    expect((await client.listPipelineObjects(ref)).objects).toHaveLength(3);
    if (backend === 'fs') {
      const dir = join(cluster.objectStore.replace(/^fs:\/\//, ''), 'objects/default/keeper/pipeline');
      expect(readdirSync(dir).sort()).toEqual(['obj-3', 'obj-4', 'obj-5']); // evicted and replaced content is gone
      for (const key of ['obj-3', 'obj-4', 'obj-5']) expect(readdirSync(join(dir, key))).toHaveLength(1);
    }
  });

  it("deletes a run's objects when it falls out of the last N runs", async () => {
    await apply(client, 'id: expiring\ntasks:\n  - { id: a, image: busybox:latest, script: "true" }\n');
    const first = await startRun(client, 'expiring');
    const ref = { namespaceId: 'default', pipelineId: 'expiring', runId: first.id };
    await client.putRunObject({ ...ref, key: 'report' }, Buffer.from('run 1 report'));
    await startRun(client, 'expiring'); // run 2: run 1 is still among the last 2
    expect((await client.listRunObjects(ref)).objects.map((o) => o.key)).toEqual(['report']);
    await startRun(client, 'expiring'); // run 3: run 1 falls out
    expect((await client.listRunObjects(ref)).objects).toEqual([]);
    const events = await cluster.query<{ kind: string }>("SELECT kind FROM events WHERE pipeline_id = 'expiring' AND kind LIKE 'object%' ORDER BY id");
    expect(events.map((e) => e.kind)).toEqual(['object_put', 'object_expired']);
  });

  it('refuses hostile keys and oversized objects, storing nothing; empty objects are fine', async () => {
    await apply(client, 'id: hostile\ntasks:\n  - { id: a, image: busybox:latest }\n');
    const ref = { namespaceId: 'default', pipelineId: 'hostile' };
    for (const key of ['../x', '..', '.', 'a/b', '/etc/passwd', 'ключ', 'k'.repeat(257), 'with space', 'nul\0byte']) {
      const result = await failure(client.putPipelineObject({ ...ref, key }, Buffer.from('x')));
      expect(result, key).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, details: expect.stringContaining('not a valid object key') });
    }
    expect(await failure(client.putPipelineObject({ ...ref, key: '' }, Buffer.from('x')))).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT });
    const big = await failure(client.putPipelineObject({ ...ref, key: 'big' }, randomBytes(2 * 1024 * 1024)));
    expect(big).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, details: expect.stringContaining('larger than the limit of 1048576 bytes') });
    expect((await client.listPipelineObjects(ref)).objects).toEqual([]);
    if (backend === 'fs') {
      const root = cluster.objectStore.replace(/^fs:\/\//, '');
      const dir = join(root, 'objects/default/hostile');
      const leftovers = (() => {
        try {
          return readdirSync(dir, { recursive: true });
        } catch {
          return [];
        }
      })();
      expect(leftovers.filter((f) => statSync(join(dir, String(f))).isFile())).toEqual([]);
    }
    const empty = await client.putPipelineObject({ ...ref, key: 'empty' }, Buffer.alloc(0));
    expect(empty.object).toMatchObject({ key: 'empty', size: 0 });
    expect(await download(client.getPipelineObject({ ...ref, key: 'empty' }))).toEqual(Buffer.alloc(0));
    expect(await failure(client.putPipelineObject({ namespaceId: 'default', pipelineId: 'no-such-pipeline', key: 'x' }, Buffer.from('x'))))
      .toMatchObject({ code: GrpcStatus.NOT_FOUND });
  });
});
