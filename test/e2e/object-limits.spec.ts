// Object API limits through a real service on both object store backends: the longest valid object key,
// stalled uploads (GOFER_UPLOAD_IDLE_TIMEOUT) and oversized upload chunks.
import { randomBytes } from 'node:crypto';
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import {
  credentials, loadPackageDefinition, Metadata, type Client, type ClientWritableStream, type ServiceClientConstructor, type ServiceError,
} from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcStatus, loadGoferPackageDefinition, OBJECT_CHUNK_BYTES, type GoferClient } from '@gofer/proto';
import { TestCluster, waitFor, type GoferProcess } from '../support/gofer-process.js';
import { apply, startRun } from '../support/runs.js';
import { startS3, type TestS3 } from '../support/s3.js';

type UploadCall = (metadata: Metadata, callback: (error: ServiceError | null) => void) => ClientWritableStream<object>;

const KIB = 1024;
const IDLE_TIMEOUT = '2s';
/** How long a test waits for something that should happen within about IDLE_TIMEOUT: generous, not a threshold. */
const GENEROUS_MS = 60_000;

async function download(stream: AsyncIterable<{ chunk?: Uint8Array | null }>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const message of stream) if (message.chunk) chunks.push(Buffer.from(message.chunk));
  return Buffer.concat(chunks);
}

async function outcome(call: Promise<unknown>): Promise<{ code: number; details: string }> {
  return call.then(
    () => ({ code: GrpcStatus.OK, details: 'succeeded' }),
    (error: { code: number; details: string }) => ({ code: error.code, details: error.details }),
  );
}

/** `call`'s outcome, or a failure naming `what` when it is still going after a generous wait. */
async function settled(what: string, call: Promise<unknown>): Promise<{ code: number; details: string }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} was still in progress after ${GENEROUS_MS / 1000}s`)), GENEROUS_MS);
  });
  try {
    return await Promise.race([outcome(call), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A body that sends `before` bytes, then waits until `release()`: a client that stalls mid-upload. */
function stalledBody(before: number): { body: AsyncGenerator<Uint8Array>; release: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const body = (async function* () {
    yield randomBytes(before);
    await gate;
  })();
  return { body, release };
}

/** What the process has open: one path (or `socket:[…]`, `pipe:[…]`) per file descriptor. */
function openFiles(process: GoferProcess): string[] {
  const fds = `/proc/${process.child.pid}/fd`;
  return readdirSync(fds).flatMap((fd) => {
    try {
      return [readlinkSync(join(fds, fd))];
    } catch {
      return []; // closed meanwhile
    }
  });
}

/** Every regular file under `dir`, temporary ones included (an fs store leaves nothing else behind). */
function filesUnder(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name));
  } catch {
    return [];
  }
}

describe.each(['fs', 's3'] as const)('object limits on %s', (backend) => {
  let cluster: TestCluster;
  let api: GoferProcess;
  let client: GoferClient;
  let s3: TestS3 | undefined;
  let s3Client: S3Client | undefined;
  /** A plain grpc-js client, for uploads the typed client would never send (it cuts chunks to 1 MiB). */
  let raw: Client & Record<'putPipelineObject' | 'putRunObject', UploadCall>;

  /** What the store holds for a pipeline's objects: file paths (fs) or keys (s3). */
  async function stored(pipelineId: string): Promise<string[]> {
    if (backend === 'fs') return filesUnder(join(cluster.objectStore.replace(/^fs:\/\//, ''), 'objects/default', pipelineId));
    const listed = await s3Client!.send(new ListObjectsV2Command({ Bucket: s3!.bucket, Prefix: `gofer/objects/default/${pipelineId}/` }));
    return (listed.Contents ?? []).map((object) => object.Key!);
  }

  /** Starts a raw upload that sends exactly `messages` and then half-closes (or stays open). */
  function rawUpload(method: 'putPipelineObject' | 'putRunObject', messages: object[], end = true): Promise<void> {
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${cluster.token}`);
    return new Promise((resolve, reject) => {
      const call = raw[method](metadata, (error) => (error ? reject(error) : resolve()));
      for (const message of messages) call.write(message);
      if (end) call.end();
    });
  }

  beforeAll(async () => {
    const env: Record<string, string> = { GOFER_UPLOAD_IDLE_TIMEOUT: IDLE_TIMEOUT };
    if (backend === 's3') {
      s3 = await startS3();
      Object.assign(env, {
        GOFER_OBJECT_STORE: `s3://${s3.bucket}/gofer`,
        GOFER_S3_ENDPOINT: s3.endpoint,
        GOFER_S3_ACCESS_KEY_ID: s3.accessKeyId,
        GOFER_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      });
      s3Client = new S3Client({
        endpoint: s3.endpoint,
        region: s3.region,
        forcePathStyle: true,
        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      });
    }
    cluster = await TestCluster.create(`object_limits_${backend}`, env);
    api = await cluster.start('api');
    client = cluster.client();
    const { gofer } = loadPackageDefinition(loadGoferPackageDefinition()) as unknown as { gofer: { v1: { Gofer: ServiceClientConstructor } } };
    raw = new gofer.v1.Gofer(api.grpcAddr, credentials.createInsecure()) as unknown as typeof raw;
    await apply(client, 'id: limits\ntasks:\n  - { id: a, image: busybox:latest }\n');
  });
  afterAll(async () => {
    raw?.close();
    s3Client?.destroy();
    await cluster?.destroy();
    await s3?.close();
  });

  it('stores, lists, reads, replaces and deletes objects under the longest key (256 characters)', async () => {
    const pipeline = { namespaceId: 'default', pipelineId: 'limits' };
    const run = { ...pipeline, runId: (await startRun(client, 'limits')).id };
    const scopes = [
      {
        name: 'pipeline object',
        put: (key: string, body: Buffer) => client.putPipelineObject({ ...pipeline, key }, body),
        list: () => client.listPipelineObjects(pipeline),
        get: (key: string) => download(client.getPipelineObject({ ...pipeline, key })),
        remove: (key: string) => client.deletePipelineObject({ ...pipeline, key }),
      },
      {
        name: 'run object',
        put: (key: string, body: Buffer) => client.putRunObject({ ...run, key }, body),
        list: () => client.listRunObjects(run),
        get: (key: string) => download(client.getRunObject({ ...run, key })),
        remove: (key: string) => client.deleteRunObject({ ...run, key }),
      },
    ];
    const longest = `${'k'.repeat(250)}.tar.x`;
    expect(longest).toHaveLength(256);
    for (const { name, put, list, get, remove } of scopes) {
      const content = randomBytes(3 * OBJECT_CHUNK_BYTES + 5);
      expect((await put(longest, content)).object, name).toMatchObject({ key: longest, size: content.length });
      expect((await list()).objects.map((object) => object.key), name).toEqual([longest]);
      expect((await get(longest)).equals(content), name).toBe(true);
      await put(longest, Buffer.from('replaced'));
      expect((await get(longest)).toString(), name).toBe('replaced');
      expect(await stored('limits'), name).toHaveLength(1);

      // One more character is not a valid key.
      expect(await outcome(put(`${longest}x`, Buffer.from('x'))), name).toMatchObject({
        code: GrpcStatus.INVALID_ARGUMENT,
        details: expect.stringContaining('not a valid object key (1-256 of'),
      });

      await remove(longest);
      expect((await list()).objects, name).toEqual([]);
      expect(await outcome(get(longest)), name).toMatchObject({ code: GrpcStatus.NOT_FOUND });
      expect(await stored('limits'), name).toEqual([]);
    }
  });

  it('aborts uploads that stall past GOFER_UPLOAD_IDLE_TIMEOUT: DEADLINE_EXCEEDED, nothing stored, files released', async () => {
    await apply(client, 'id: stalls\ntasks:\n  - { id: a, image: busybox:latest }\n');
    const run = await startRun(client, 'stalls');
    const pipeline = { namespaceId: 'default', pipelineId: 'stalls' };
    // A finished upload first, so the baseline includes what any upload opens once (connections, pools).
    await client.putPipelineObject({ ...pipeline, key: 'warm-up' }, randomBytes(600 * KIB));
    await client.deletePipelineObject({ ...pipeline, key: 'warm-up' });
    expect(await stored('stalls')).toEqual([]);
    const baseline = openFiles(api).length;
    const storeDirectory = cluster.objectStore.replace(/^fs:\/\//, '');
    const openInStore = () => openFiles(api).filter((path) => path.startsWith(storeDirectory));

    // A header and 512 KiB, then nothing: pipeline and run objects alike.
    const stalled = Array.from({ length: 20 }, (_, i) => {
      const { body, release } = stalledBody(512 * KIB);
      const upload =
        i % 2 === 0
          ? client.putPipelineObject({ ...pipeline, key: `stalled-${i}` }, body)
          : client.putRunObject({ ...pipeline, runId: run.id, key: `stalled-${i}` }, body);
      return { upload: settled(`stalled upload ${i}`, upload), release };
    });
    // And a client that opens an upload and never even sends its header.
    const silent = settled('the upload without a header', rawUpload('putPipelineObject', [], false));

    if (backend === 'fs') {
      // Each stalled upload holds a temporary file open while it waits: what the timeout must release.
      await waitFor('the stalled uploads to open their temporary files', async () =>
        (await stored('stalls')).length === stalled.length ? true : undefined,
      );
      expect(openInStore()).toHaveLength(stalled.length);
    }

    let outcomes: Array<{ code: number; details: string }>;
    try {
      outcomes = await Promise.all([...stalled.map(({ upload }) => upload), silent]);
    } finally {
      for (const { release } of stalled) release();
    }
    // Each upload closed and removed its temporary file before it answered.
    expect(openInStore()).toEqual([]);
    for (const result of outcomes) {
      expect(result).toEqual({
        code: GrpcStatus.DEADLINE_EXCEEDED,
        details: expect.stringMatching(/^the upload was aborted: no message arrived for 2s \(GOFER_UPLOAD_IDLE_TIMEOUT\); nothing was stored/),
      });
    }

    expect((await client.listPipelineObjects(pipeline)).objects).toEqual([]);
    expect((await client.listRunObjects({ ...pipeline, runId: run.id })).objects).toEqual([]);
    expect(await cluster.query("SELECT key FROM objects WHERE pipeline_id = 'stalls'")).toEqual([]);
    expect(await stored('stalls')).toEqual([]);
    if (s3) expect(await s3.pendingUploads()).toBe(0);
    // Everything else the uploads held goes too (the database pool shrinks back once its extra connections idle).
    const settledFiles = await waitFor(
      'the API process to close what the stalled uploads held',
      async () => {
        const count = openFiles(api).length;
        return count <= baseline ? count : undefined;
      },
      GENEROUS_MS,
    );
    expect(settledFiles).toBeLessThanOrEqual(baseline);

    // The service still takes uploads.
    expect((await client.putPipelineObject({ ...pipeline, key: 'after' }, Buffer.from('ok'))).object).toMatchObject({ size: 2 });
  });

  it('refuses an upload chunk above 1 MiB with INVALID_ARGUMENT naming the limit, storing nothing', async () => {
    await apply(client, 'id: chunks\ntasks:\n  - { id: a, image: busybox:latest }\n');
    const header = { namespaceId: 'default', pipelineId: 'chunks' };
    // Exactly the limit is fine.
    await rawUpload('putPipelineObject', [{ header: { ...header, key: 'at-limit' } }, { chunk: Buffer.alloc(OBJECT_CHUNK_BYTES, 1) }]);

    const over = await outcome(
      rawUpload('putPipelineObject', [
        { header: { ...header, key: 'over-limit' } },
        { chunk: Buffer.alloc(OBJECT_CHUNK_BYTES, 2) },
        { chunk: Buffer.alloc(OBJECT_CHUNK_BYTES + 1, 3) },
        { chunk: Buffer.alloc(10, 4) },
      ]),
    );
    expect(over).toEqual({
      code: GrpcStatus.INVALID_ARGUMENT,
      details:
        'upload message 2 carries 1048577 bytes of content, more than the limit of 1048576 bytes (1 MiB) per chunk; ' +
        'nothing was stored: send the content in smaller chunks',
    });
    const run = await startRun(client, 'chunks');
    expect(
      await outcome(rawUpload('putRunObject', [{ header: { ...header, runId: run.id, key: 'over' } }, { chunk: Buffer.alloc(2 * OBJECT_CHUNK_BYTES) }])),
    ).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, details: expect.stringContaining('more than the limit of 1048576 bytes (1 MiB) per chunk') });

    expect((await client.listPipelineObjects(header)).objects.map((object) => object.key)).toEqual(['at-limit']);
    expect((await client.listRunObjects({ ...header, runId: run.id })).objects).toEqual([]);
    expect(await stored('chunks')).toHaveLength(1);
    if (s3) expect(await s3.pendingUploads()).toBe(0);
  });
});
