export type { GetOptions, ObjectStore, PutOptions } from './object-store.js';
export { ObjectStoreError, type ObjectStoreErrorKind } from './object-store.error.js';
export {
  assertStorageKey,
  assertStoragePrefix,
  MAX_PORTABLE_SEGMENT_BYTES,
  MAX_STORAGE_KEY_BYTES,
  portableSegment,
} from './storage-key.js';
export { FsObjectStore } from './fs/fs.object-store.js';
export { S3ObjectStore, type S3ObjectStoreOptions } from './s3/s3.object-store.js';
export {
  createObjectStore,
  parseObjectStoreUrl,
  type ObjectStoreLocation,
  type S3ConnectionOptions,
} from './create-object-store.js';
export { OBJECT_STORE } from './object-store.tokens.js';
export * from './object.service.js';
export * from './object-store.metrics.js';
export * from './objects.module.js';
