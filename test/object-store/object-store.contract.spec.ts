// The ObjectStore contract, run against both backends: a local directory, and S3 (s3rver).
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsObjectStore, type ObjectStore, ObjectStoreError, portableSegment, S3ObjectStore } from '@gofer/object-store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3 } from '../support/s3.js';
import { bodyOf, failingAfter, filled, MIB, readAll, stalling } from './bodies.js';

interface Backend {
  /** The store under test. */
  store: ObjectStore;
  /** A store of the same kind whose backend fails every call: proves a check ran before any I/O. */
  unusable: ObjectStore;
  /** Traces a failed put may leave: temporary files, multipart uploads. Must stay empty. */
  leftovers(): Promise<string[]>;
  /** Anything that appeared outside the store (a path-traversal write would land there). */
  outside(): Promise<string[]>;
  /** The size of a put body that spans several multipart parts on S3. */
  multipart: number;
  close(): Promise<void>;
}

/**
 * `longSegments`: whether the backend takes key segments longer than 255 bytes. The directory store and
 * AWS S3 do; s3rver, like MinIO, keeps each value in a file named after its key and does not.
 */
const backends: Array<{ name: string; longSegments: boolean; start(): Promise<Backend> }> = [
  {
    name: 'fs',
    longSegments: true,
    async start() {
      const sandbox = await mkdtemp(join(tmpdir(), 'gofer-object-store-'));
      const directory = join(sandbox, 'store');
      const store = new FsObjectStore(directory);
      return {
        store,
        // A directory below a regular file: every filesystem call fails with ENOTDIR.
        unusable: new FsObjectStore('/dev/null/objects'),
        leftovers: async () =>
          (await readdir(directory, { recursive: true }).catch(() => [])).filter((path) => path.includes('~')),
        outside: async () => (await readdir(sandbox)).filter((name) => name !== 'store'),
        multipart: 12 * MIB,
        close: () => rm(sandbox, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 's3',
    longSegments: false,
    async start() {
      const s3 = await startS3();
      const connection = {
        endpoint: s3.endpoint,
        region: s3.region,
        forcePathStyle: true,
        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      };
      const store = new S3ObjectStore({ ...connection, bucket: s3.bucket });
      // Port 1 on loopback: nothing listens, every request fails with ECONNREFUSED.
      const unusable = new S3ObjectStore({ ...connection, bucket: s3.bucket, endpoint: 'http://127.0.0.1:1' });
      return {
        store,
        unusable,
        leftovers: async () => Array.from({ length: await s3.pendingUploads() }, (_, i) => `multipart upload ${i + 1}`),
        // S3 keys are not paths; a traversal would show up as a stored value instead (checked by head).
        outside: async () => [],
        multipart: 12 * MIB,
        close: async () => {
          await store.close();
          await unusable.close();
          await s3.close();
        },
      };
    },
  },
];

const hostileKeys: Array<[string, string]> = [
  ['parent segment', '../x'],
  ['parent segment in the middle', 'a/../../b'],
  ['absolute path', '/abs'],
  ['absolute path with traversal', '/../../tmp/x'],
  ['double slash', 'a//b'],
  ['current directory', '.'],
  ['parent directory', '..'],
  ['dot segment', 'a/./b'],
  ['trailing slash', 'a/'],
  ['empty key', ''],
  ['NUL byte', 'a\0b'],
  ['NUL byte after a dot-dot', '..\0/x'],
  ['backslash', 'a\\..\\b'],
  ['space', 'a b'],
  ['percent-encoded traversal', '%2e%2e/x'],
  ['newline', 'a/b\n'],
  ['overly long', 'k'.repeat(1025)],
  ['overly long in segments', Array.from({ length: 300 }, () => 'abcd').join('/')],
];

const unicodeKeys: Array<[string, string]> = [
  ['accented letters', 'objects/ünïcode'],
  ['emoji', 'objects/😀'],
  ['zero-width space', 'objects/a\u200bb'],
  ['full-width dot-dot', 'objects/\uff0e\uff0e/x'],
  ['ligature', 'objects/\ufb01le'],
];

const hostilePrefixes = ['', '/', '../', 'a/../', 'a//', './', 'a', '/a/', 'a/b', 'ü/'];

describe.each(backends)('$name object store', ({ start, longSegments }) => {
  let backend: Backend;
  let store: ObjectStore;
  let n = 0;
  /** A key of its own for each test, so tests never see each other's values. */
  const key = (name = 'value') => `contract/t${++n}/${name}`;

  beforeAll(async () => {
    backend = await start();
    store = backend.store;
  });
  afterAll(() => backend?.close());

  it('answers ping and describes where it stores', async () => {
    await store.ping();
    expect(store.describe()).toMatch(/^(directory \/.+|s3:\/\/gofer-test-[0-9a-f]+ at http:\/\/127\.0\.0\.1:\d+)$/);
  });

  it('round-trips a value put in several chunks', async () => {
    const k = key('build.tar');
    expect(await store.put(k, bodyOf('hello, ', 'object ', 'store'))).toEqual({ size: 19 });
    const got = await store.get(k);
    expect(got?.size).toBe(19);
    expect((await readAll(got!.body)).toString()).toBe('hello, object store');
    expect(await store.head(k)).toEqual({ size: 19 });
  });

  it('answers undefined for a key never stored', async () => {
    expect(await store.get(key())).toBeUndefined();
    expect(await store.head(key())).toBeUndefined();
  });

  it('stores an empty value', async () => {
    const k = key();
    expect(await store.put(k, bodyOf())).toEqual({ size: 0 });
    expect(await store.head(k)).toEqual({ size: 0 });
    const got = await store.get(k);
    expect(got?.size).toBe(0);
    expect((await readAll(got!.body)).length).toBe(0);
  });

  it('stores binary values byte for byte', async () => {
    const k = key('blob.bin');
    const everyByte = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const reversed = Buffer.from(everyByte).reverse();
    const random = randomBytes(MIB + 17);
    await store.put(k, bodyOf(everyByte, random, reversed));
    const got = await store.get(k);
    expect((await readAll(got!.body)).equals(Buffer.concat([everyByte, random, reversed]))).toBe(true);
  });

  it('round-trips a value larger than one multipart part', async () => {
    const k = key();
    const value = randomBytes(backend.multipart);
    expect(await store.put(k, bodyOf(value.subarray(0, 3 * MIB), value.subarray(3 * MIB)))).toEqual({ size: value.length });
    expect((await readAll((await store.get(k))!.body)).equals(value)).toBe(true);
  });

  it('replaces a value, and a stream opened before keeps reading the old one', async () => {
    const k = key();
    await store.put(k, bodyOf('first version'));
    await store.put(k, bodyOf('second, longer version'));
    expect((await readAll((await store.get(k))!.body)).toString()).toBe('second, longer version');
    expect(await store.head(k)).toEqual({ size: 22 });
  });

  describe('a put that fails stores nothing and keeps the previous value', () => {
    it('too large: rejects with too_large naming the limit', async () => {
      const k = key();
      await store.put(k, bodyOf('old'));
      const error = await store.put(k, filled(3 * MIB), { maxBytes: 2 * MIB }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ObjectStoreError);
      expect(error).toMatchObject({ kind: 'too_large' });
      expect((error as Error).message).toContain('2097152 bytes (2 MiB)');
      expect((await readAll((await store.get(k))!.body)).toString()).toBe('old');
      expect(await backend.leftovers()).toEqual([]);
    });

    it('too large across several multipart parts: the upload is aborted', async () => {
      const k = key();
      await store.put(k, bodyOf('old'));
      await expect(store.put(k, filled(backend.multipart), { maxBytes: backend.multipart - 1 })).rejects.toMatchObject({
        kind: 'too_large',
      });
      expect((await readAll((await store.get(k))!.body)).toString()).toBe('old');
      expect(await backend.leftovers()).toEqual([]);
    });

    it('too large for a new key: nothing appears', async () => {
      const k = key();
      await expect(store.put(k, bodyOf('12345'), { maxBytes: 4 })).rejects.toMatchObject({ kind: 'too_large' });
      expect(await store.head(k)).toBeUndefined();
      expect(await store.get(k)).toBeUndefined();
    });

    it('a body of exactly maxBytes is accepted', async () => {
      const k = key();
      expect(await store.put(k, bodyOf('1234', '5'), { maxBytes: 5 })).toEqual({ size: 5 });
      expect(await store.put(key(), bodyOf(), { maxBytes: 0 })).toEqual({ size: 0 });
    });

    it('body iterator throws: rejects with the body error', async () => {
      const k = key();
      await store.put(k, bodyOf('old'));
      const failure = new Error('client went away');
      await expect(store.put(k, failingAfter(MIB, failure))).rejects.toBe(failure);
      await expect(store.put(key(), failingAfter(0, failure))).rejects.toBe(failure);
      expect((await readAll((await store.get(k))!.body)).toString()).toBe('old');
      expect(await backend.leftovers()).toEqual([]);
    });

    it('body iterator throws after several multipart parts: the upload is aborted', async () => {
      const k = key();
      await store.put(k, bodyOf('old'));
      const failure = new Error('client went away later');
      await expect(store.put(k, failingAfter(backend.multipart, failure))).rejects.toBe(failure);
      expect((await readAll((await store.get(k))!.body)).toString()).toBe('old');
      expect(await backend.leftovers()).toEqual([]);
    });

    it('signal aborted while the body stalls: rejects with the reason and closes the body', async () => {
      const k = key();
      await store.put(k, bodyOf('old'));
      for (const before of [MIB, backend.multipart]) {
        const { body, reached, returned } = stalling(before);
        const controller = new AbortController();
        const put = store.put(k, body, { signal: controller.signal });
        await reached;
        const reason = new Error('run cancelled');
        controller.abort(reason);
        await expect(put).rejects.toBe(reason);
        await returned;
      }
      expect((await readAll((await store.get(k))!.body)).toString()).toBe('old');
      expect(await backend.leftovers()).toEqual([]);
    });

    it('signal aborted before the put: rejects without reading the body', async () => {
      const k = key();
      const controller = new AbortController();
      controller.abort(new Error('too late'));
      let read = false;
      const body = (async function* () {
        read = true;
        yield Buffer.from('x');
      })();
      await expect(store.put(k, body, { signal: controller.signal })).rejects.toThrow('too late');
      expect(read).toBe(false);
      expect(await store.head(k)).toBeUndefined();
    });
  });

  describe('get with a signal', () => {
    it('rejects when the signal is already aborted', async () => {
      const k = key();
      await store.put(k, bodyOf('x'));
      const controller = new AbortController();
      controller.abort(new Error('gone'));
      await expect(store.get(k, { signal: controller.signal })).rejects.toThrow('gone');
    });

    it('destroys the body when the signal aborts mid-read', async () => {
      const k = key();
      await store.put(k, filled(24 * MIB));
      const controller = new AbortController();
      const got = await store.get(k, { signal: controller.signal });
      const reading = readAll(got!.body);
      controller.abort(new Error('client disconnected'));
      await expect(reading).rejects.toThrow();
      expect(got!.body.destroyed).toBe(true);
    });
  });

  it('delete removes a value and is idempotent', async () => {
    const k = key();
    await store.delete(k);
    await store.put(k, bodyOf('x'));
    await store.delete(k);
    expect(await store.head(k)).toBeUndefined();
    expect(await store.get(k)).toBeUndefined();
    await store.delete(k);
  });

  it("stores the longest object key as Gofer's object layout nests it (a portable segment)", async () => {
    const base = key('object-keys');
    const longest = 'k'.repeat(256); // object keys are 1-256 of A-Z a-z 0-9 _ . -
    const neighbour = `${'k'.repeat(255)}x`; // same length and start, differs only at the end
    const keys = [
      `${base}/${portableSegment(longest)}/${randomUUID()}`,
      `${base}/${portableSegment(neighbour)}/${randomUUID()}`,
      `${base}/${portableSegment('k'.repeat(255))}/${randomUUID()}`, // fits as is
    ];
    expect(new Set(keys.map((k) => k.split('/')[3])).size).toBe(3);
    for (const k of keys) expect(await store.put(k, bodyOf(k))).toEqual({ size: k.length });
    for (const k of keys) {
      expect(await store.head(k)).toEqual({ size: k.length });
      expect((await readAll((await store.get(k))!.body)).toString()).toBe(k);
    }
    await store.delete(keys[0]!);
    expect(await store.get(keys[0]!)).toBeUndefined();
    expect(await store.head(keys[1]!)).toEqual({ size: keys[1]!.length });
    expect(await store.deletePrefix(`${base}/${portableSegment(neighbour)}/`)).toBe(1);
    expect(await store.deletePrefix(`${base}/`)).toBe(1);
    expect(await backend.leftovers()).toEqual([]);
  });

  // A file name is limited to 255 bytes on most filesystems; storage keys only to 1024 bytes as a whole.
  it.skipIf(!longSegments)('stores keys whose segments are longer than a file name may be, each apart from the others', async () => {
    const base = key('long');
    const keys = [
      `${base}/${'k'.repeat(256)}`,
      `${base}/${'k'.repeat(255)}x`, // same length and start, differs only at the end
      `${base}/${'k'.repeat(255)}`, // the longest name a directory holds as is
      `${base}/${'d'.repeat(256)}/${randomUUID()}`, // a long segment that is a parent
      `${base}/${'s'.repeat(1024 - base.length - 1)}`, // one segment up to the key limit
    ];
    for (const k of keys) expect(await store.put(k, bodyOf(k))).toEqual({ size: k.length });
    for (const k of keys) {
      expect(await store.head(k)).toEqual({ size: k.length });
      expect((await readAll((await store.get(k))!.body)).toString()).toBe(k);
    }
    // A failed put of a long key leaves nothing either.
    const failed = `${base}/${'t'.repeat(300)}`;
    await expect(store.put(failed, bodyOf('12345'), { maxBytes: 4 })).rejects.toMatchObject({ kind: 'too_large' });
    expect(await store.head(failed)).toBeUndefined();
    expect(await backend.leftovers()).toEqual([]);

    await store.delete(keys[0]!);
    expect(await store.head(keys[0]!)).toBeUndefined();
    expect(await store.get(keys[0]!)).toBeUndefined();
    expect(await store.head(keys[1]!)).toEqual({ size: keys[1]!.length });
    expect(await store.deletePrefix(`${base}/${'d'.repeat(256)}/`)).toBe(1);
    expect(await store.head(keys[3]!)).toBeUndefined();
    expect(await store.deletePrefix(`${base}/`)).toBe(3);
  });

  it('deletePrefix removes every value under the prefix, across list pages, and nothing else', async () => {
    const run = key('run');
    // More than one list page (1000 keys) and one DeleteObjects batch on S3.
    const under = Array.from({ length: 1050 }, (_, i) => `${run}/12/task-${i}/out.log`);
    const neighbours = [`${run}/120/x`, `${run}/1/x`, `${run}/12.log`, `${run}/2/x`];
    const all = [...under, ...neighbours];
    for (let i = 0; i < all.length; i += 50) {
      await Promise.all(all.slice(i, i + 50).map((k) => store.put(k, bodyOf(k))));
    }
    expect(await store.deletePrefix(`${run}/12/`)).toBe(under.length);
    expect(await store.head(under[0]!)).toBeUndefined();
    expect(await store.head(under[under.length - 1]!)).toBeUndefined();
    for (const k of neighbours) expect(await store.head(k)).toEqual({ size: Buffer.byteLength(k) });
    expect(await store.deletePrefix(`${run}/12/`)).toBe(0);
    expect(await store.deletePrefix(`${run}/nothing-here/`)).toBe(0);
    expect(await store.deletePrefix(`${run}/`)).toBe(neighbours.length);
  });

  describe('rejects malformed storage keys with invalid_key before touching the backend', () => {
    const operations: Array<[string, (s: ObjectStore, k: string) => Promise<unknown>]> = [
      ['put', (s, k) => s.put(k, bodyOf('evil'))],
      ['get', (s, k) => s.get(k)],
      ['head', (s, k) => s.head(k)],
      ['delete', (s, k) => s.delete(k)],
    ];

    it.each([...hostileKeys, ...unicodeKeys])('%s', async (_, hostile) => {
      for (const [, operation] of operations) {
        for (const target of [store, backend.unusable]) {
          const error = await operation(target, hostile).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(ObjectStoreError);
          expect(error).toMatchObject({ kind: 'invalid_key' });
          expect((error as Error).message).toMatch(/^invalid storage key .*: .*; storage keys are segments of/s);
          expect((error as Error).message.length).toBeLessThan(400);
        }
      }
      expect(await backend.outside()).toEqual([]);
    });

    it.each(hostilePrefixes)('deletePrefix(%j)', async (prefix) => {
      for (const target of [store, backend.unusable]) {
        await expect(target.deletePrefix(prefix)).rejects.toMatchObject({ kind: 'invalid_key' });
      }
    });
  });
});
