import { describe, expect, it } from 'vitest';
import { createObjectStore, parseObjectStoreUrl } from './create-object-store.js';
import { FsObjectStore } from './fs/fs.object-store.js';
import { S3ObjectStore } from './s3/s3.object-store.js';

describe('parseObjectStoreUrl', () => {
  it.each([
    ['fs:///var/lib/gofer/objects', { kind: 'fs', directory: '/var/lib/gofer/objects' }],
    ['fs://.data/objects', { kind: 'fs', directory: '/srv/gofer/.data/objects' }],
    ['fs://objects/', { kind: 'fs', directory: '/srv/gofer/objects' }],
    ['s3://gofer-objects', { kind: 's3', bucket: 'gofer-objects' }],
    ['s3://gofer-objects/', { kind: 's3', bucket: 'gofer-objects' }],
    ['s3://shared/gofer/prod', { kind: 's3', bucket: 'shared', prefix: 'gofer/prod' }],
    ['s3://shared/gofer/prod/', { kind: 's3', bucket: 'shared', prefix: 'gofer/prod' }],
  ])('%s', (url, location) => expect(parseObjectStoreUrl(url, '/srv/gofer')).toEqual(location));

  it.each(['/tmp/x', 'file:///tmp/x', 'fs://', 's3://', 's3:///prefix', 'S3://bucket', 'minio://bucket', ''])(
    'rejects %j with invalid_config',
    (url) => {
      expect(() => parseObjectStoreUrl(url)).toThrow(
        expect.objectContaining({ kind: 'invalid_config', message: expect.stringContaining(`invalid object store URL "${url}"`) }),
      );
    },
  );
});

describe('createObjectStore', () => {
  it('builds a directory store', () => {
    const store = createObjectStore('fs:///var/lib/gofer/objects');
    expect(store).toBeInstanceOf(FsObjectStore);
    expect(store.describe()).toBe('directory /var/lib/gofer/objects');
  });

  it('builds an S3 store without contacting it', () => {
    const store = createObjectStore('s3://gofer-objects/prod', {
      endpoint: 'http://127.0.0.1:9000',
      accessKeyId: 'key',
      secretAccessKey: 'secret',
    });
    expect(store).toBeInstanceOf(S3ObjectStore);
    expect(store.describe()).toBe('s3://gofer-objects/prod at http://127.0.0.1:9000');
    expect(createObjectStore('s3://gofer-objects', { region: 'eu-west-1', endpoint: '' }).describe()).toBe(
      's3://gofer-objects in AWS region eu-west-1',
    );
  });

  it.each([
    ['s3://a', {}, 'invalid S3 bucket name "a"'],
    ['s3://bucket_with/../prefix', {}, 'invalid S3 key prefix'],
    ['s3://gofer-objects/ok', { endpoint: '127.0.0.1:9000' }, 'invalid S3 endpoint "127.0.0.1:9000"'],
    ['s3://gofer-objects', { endpoint: 'ftp://127.0.0.1' }, 'invalid S3 endpoint'],
    ['s3://gofer-objects', { accessKeyId: 'key' }, 'need both GOFER_S3_ACCESS_KEY_ID and GOFER_S3_SECRET_ACCESS_KEY'],
    ['s3://gofer-objects', { secretAccessKey: 'secret' }, 'need both'],
  ])('rejects %s %j with invalid_config', (url, options, message) => {
    expect(() => createObjectStore(url, options)).toThrow(
      expect.objectContaining({ kind: 'invalid_config', message: expect.stringContaining(message) }),
    );
  });
});
