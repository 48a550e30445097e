// Large values stream: a 200 MB put and get on each backend must not hold the value in memory. The bound
// is on memory (RSS growth while the transfer runs), never on time.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsObjectStore, type ObjectStore, S3ObjectStore } from '@gofer/object-store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3, type TestS3 } from '../support/s3.js';
import { MIB } from './bodies.js';

const TOTAL = 200 * MIB;
const CHUNK = 64 * 1024;
/**
 * Generous: the S3 store holds about 10 MiB of parts, the directory store one chunk; a store that held
 * the value would grow by 200 MiB. The rest is garbage V8 has not collected yet and memory the allocator
 * keeps for reuse (s3rver runs in this process too).
 */
const MAX_RSS_GROWTH = 64 * MIB;

/** `total` pseudo-random bytes made chunk by chunk (never all at once), hashed as they are produced. */
async function* generated(total: number, hash = createHash('sha256')): AsyncGenerator<Uint8Array> {
  for (let sent = 0; sent < total; sent += CHUNK) {
    const chunk = randomBytes(CHUNK);
    hash.update(chunk);
    yield chunk;
  }
}

/** Reads a value to the end, hashing it. */
async function digestOf(store: ObjectStore, key: string): Promise<{ size: number; sha256: string }> {
  const got = await store.get(key);
  const hash = createHash('sha256');
  for await (const chunk of got!.body) hash.update(chunk as Buffer);
  return { size: got!.size, sha256: hash.digest('hex') };
}

/** Samples RSS while `work` runs; resolves its result and the largest growth over the starting RSS. */
async function measured<T>(work: () => Promise<T>): Promise<{ result: T; growth: number }> {
  const start = process.memoryUsage.rss();
  let peak = start;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 5);
  try {
    const result = await work();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, growth: peak - start };
  } finally {
    clearInterval(sampler);
  }
}

let s3: TestS3;
let sandbox: string;
const stores = new Map<string, ObjectStore>();

beforeAll(async () => {
  s3 = await startS3();
  sandbox = await mkdtemp(join(tmpdir(), 'gofer-streaming-'));
  stores.set('fs', new FsObjectStore(sandbox));
  stores.set(
    's3',
    new S3ObjectStore({
      bucket: s3.bucket,
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    }),
  );
});
afterAll(async () => {
  for (const store of stores.values()) await store.close();
  await s3?.close();
  await rm(sandbox, { recursive: true, force: true });
});

describe.each(['fs', 's3'])('%s object store', (name) => {
  it('puts and gets a 200 MB value with bounded memory', async () => {
    const store = stores.get(name)!;
    // A first, smaller transfer over the same code paths, so that one-time costs (loading and compiling
    // the SDK's code, the heap growing to its working size) are not counted as the transfer's.
    await store.put('warm-up/value', generated(32 * MIB));
    await digestOf(store, 'warm-up/value');

    const key = 'objects/default/big/run/1/artifact.bin';
    const written = createHash('sha256');
    const put = await measured(() => store.put(key, generated(TOTAL, written)));
    const get = await measured(() => digestOf(store, key));
    console.log(
      `${name}: RSS growth during a 200 MiB put ${(put.growth / MIB).toFixed(1)} MiB, get ${(get.growth / MIB).toFixed(1)} MiB`,
    );

    expect(put.result).toEqual({ size: TOTAL });
    expect(get.result).toEqual({ size: TOTAL, sha256: written.digest('hex') });
    expect(put.growth).toBeLessThan(MAX_RSS_GROWTH);
    expect(get.growth).toBeLessThan(MAX_RSS_GROWTH);
    await store.deletePrefix('objects/');
  });
});
