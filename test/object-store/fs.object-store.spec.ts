// Directory-only behaviour: temporary files, the on-disk layout, directories that are not values, and
// paths outside the store. The shared contract is in object-store.contract.spec.ts.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createObjectStore, FsObjectStore, ObjectStoreError } from '@gofer/object-store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyOf, MIB, readAll, stalling } from './bodies.js';

let sandbox: string;
let directory: string;
let store: FsObjectStore;

beforeAll(async () => {
  sandbox = await mkdtemp(join(tmpdir(), 'gofer-fs-store-'));
  directory = join(sandbox, 'objects');
  store = new FsObjectStore(directory);
});
afterAll(() => rm(sandbox, { recursive: true, force: true }));

const temporaryFiles = async (dir: string) =>
  (await readdir(dir, { recursive: true }).catch(() => [])).filter((name) => name.includes('~'));

describe('a put in progress', () => {
  it('is invisible to get, head and deletePrefix, and its temporary file goes when it fails', async () => {
    await store.put('progress/old', bodyOf('old value'));
    for (const key of ['progress/old', 'progress/new']) {
      const { body, reached } = stalling(MIB);
      const controller = new AbortController();
      const put = store.put(key, body, { signal: controller.signal });
      await reached;

      expect(await temporaryFiles(join(directory, 'progress'))).toHaveLength(1);
      if (key === 'progress/old') {
        expect((await readAll((await store.get(key))!.body)).toString()).toBe('old value');
        expect(await store.head(key)).toEqual({ size: 9 });
      } else {
        expect(await store.get(key)).toBeUndefined();
        expect(await store.head(key)).toBeUndefined();
      }

      controller.abort(new Error('stop'));
      await expect(put).rejects.toThrow('stop');
      expect(await temporaryFiles(directory)).toEqual([]);
    }
  });

  it('is neither counted nor removed by deletePrefix, and commits afterwards', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const inProgress = new Promise<void>((resolve) => (started = resolve));
    const body = (async function* () {
      yield Buffer.from('first half, ');
      started();
      await gate;
      yield Buffer.from('second half');
    })();
    await store.put('busy/done', bodyOf('done'));
    const put = store.put('busy/late', body);
    await inProgress;

    expect(await store.deletePrefix('busy/')).toBe(1);
    release();
    expect(await put).toEqual({ size: 23 });
    expect((await readAll((await store.get('busy/late'))!.body)).toString()).toBe('first half, second half');
  });

  it('left behind by a crashed process is removed by deletePrefix once stale', async () => {
    await store.put('crashed/7/kept', bodyOf('x'));
    const leftover = join(directory, 'crashed', '7', 'out.log~0123456789ab.tmp');
    await writeFile(leftover, 'partial');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600 * 1000);
    await utimes(leftover, twoHoursAgo, twoHoursAgo);

    expect(await store.deletePrefix('crashed/')).toBe(1);
    await expect(stat(join(directory, 'crashed'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

it('keeps values at their key as a relative path, readable by the earlier log archive layout', async () => {
  await store.put('logs/default/p/3/task.1.log', bodyOf('line 1\n', 'line 2\n'));
  expect(await readFile(join(directory, 'logs/default/p/3/task.1.log'), 'utf8')).toBe('line 1\nline 2\n');
});

it('names a file after its key segment up to 255 bytes, and a longer segment by its start and its SHA-256', async () => {
  const fits = 'f'.repeat(255);
  const long = `${'l'.repeat(300)}.log`;
  await store.put(`names/${fits}/${long}`, bodyOf('x'));
  const shortened = `${'l'.repeat(160)}+${createHash('sha256').update(long).digest('hex')}`;
  expect(await readdir(join(directory, 'names'))).toEqual([fits]);
  expect(await readdir(join(directory, 'names', fits))).toEqual([shortened]);
  expect(await readFile(join(directory, 'names', fits, shortened), 'utf8')).toBe('x');

  // A put in progress of a long key keeps its temporary file next to the shortened name.
  const { body, reached } = stalling(MIB);
  const controller = new AbortController();
  const put = store.put(`names/${fits}/${'m'.repeat(700)}`, body, { signal: controller.signal });
  await reached;
  expect(await temporaryFiles(join(directory, 'names', fits))).toHaveLength(1);
  controller.abort(new Error('stop'));
  await expect(put).rejects.toThrow('stop');
  expect(await readdir(join(directory, 'names', fits))).toEqual([shortened]);
});

it('removes directories left empty by delete and deletePrefix', async () => {
  await store.put('tidy/a/b/c/value', bodyOf('x'));
  await store.put('tidy/a/other', bodyOf('y'));
  await store.delete('tidy/a/b/c/value');
  expect(await readdir(join(directory, 'tidy/a'))).toEqual(['other']);
  await store.deletePrefix('tidy/a/');
  await expect(stat(join(directory, 'tidy'))).rejects.toMatchObject({ code: 'ENOENT' });
  expect((await stat(directory)).isDirectory()).toBe(true);
});

describe('a key that is both a value and a parent of values', () => {
  it('is rejected with a clear message, either way round', async () => {
    await store.put('clash/a', bodyOf('value'));
    const below = await store.put('clash/a/b', bodyOf('below')).catch((e: unknown) => e);
    expect(below).toMatchObject({ kind: 'backend_error' });
    expect((below as Error).message).toContain('cannot store "clash/a/b": a directory store cannot hold both a value and values under it');

    await store.put('clash/d/e', bodyOf('below'));
    const above = await store.put('clash/d', bodyOf('value')).catch((e: unknown) => e);
    expect(above).toMatchObject({ kind: 'backend_error' });
    expect(await temporaryFiles(directory)).toEqual([]);
  });

  it('a directory is not a value: get and head answer undefined, delete does nothing', async () => {
    await store.put('dirs/x/y', bodyOf('y'));
    expect(await store.get('dirs/x')).toBeUndefined();
    expect(await store.head('dirs/x')).toBeUndefined();
    await store.delete('dirs/x');
    expect(await store.head('dirs/x/y')).toEqual({ size: 1 });
  });
});

it('deletePrefix removes a symlink found in the store, never what it points to', async () => {
  const outside = join(sandbox, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'precious'), 'keep me');
  await store.put('links/7/value', bodyOf('x'));
  await symlink(outside, join(directory, 'links/7/escape'));

  expect(await store.deletePrefix('links/')).toBe(2);
  expect(await readFile(join(outside, 'precious'), 'utf8')).toBe('keep me');
});

describe('ping', () => {
  it('creates a missing store directory', async () => {
    const fresh = new FsObjectStore(join(sandbox, 'fresh', 'objects'));
    await fresh.ping();
    expect((await stat(fresh.directory)).isDirectory()).toBe(true);
    expect(await readdir(fresh.directory)).toEqual([]);
  });

  it('fails with a clear message when the directory cannot be used', async () => {
    await writeFile(join(sandbox, 'a-file'), '');
    const broken = new FsObjectStore(join(sandbox, 'a-file', 'objects'));
    const error = await broken.ping().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ObjectStoreError);
    expect(error).toMatchObject({ kind: 'backend_error' });
    expect((error as Error).message).toContain(join(sandbox, 'a-file', 'objects'));
    expect((error as Error).message).toContain('check GOFER_OBJECT_STORE points at a directory');
  });
});

it('createObjectStore builds a directory store from fs:// URLs', async () => {
  const absolute = createObjectStore(`fs://${directory}`);
  expect(absolute.describe()).toBe(`directory ${directory}`);
  await store.put('url/value', bodyOf('same directory'));
  expect(await absolute.head('url/value')).toEqual({ size: 14 });
  expect(createObjectStore('fs://.data/objects').describe()).toBe(`directory ${join(process.cwd(), '.data/objects')}`);
});
