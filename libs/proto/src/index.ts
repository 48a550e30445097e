/**
 * `@gofer/proto`: the Gofer API contract for TypeScript — the message types generated from
 * `proto/gofer/v1/gofer.proto` and `trigger.proto`, the loader settings servers and clients share, and a typed client.
 */
export * from './gen/gofer/v1/gofer.js';
export * from './gen/gofer/v1/trigger.js';
export {
  GOFER_PACKAGE,
  GOFER_PROTO_FILE,
  GOFER_SERVICE,
  PROTO_LOADER_OPTIONS,
  PROTO_PATH,
  TRIGGER_PROTO_FILE,
  TRIGGER_SERVICE,
  loadGoferPackageDefinition,
  loadTriggerPackageDefinition,
} from './gofer-proto.js';
export {
  GrpcStatus,
  MAX_RECEIVE_MESSAGE_BYTES,
  MAX_SEND_MESSAGE_BYTES,
  OBJECT_CHUNK_BYTES,
  createGoferClient,
  isServiceError,
  splitChunks,
  type GoferClient,
  type GoferClientOptions,
  type GoferStreamMethods,
  type GoferUnaryMethods,
  type GoferUploadMethods,
  type UploadBody,
} from './gofer.client.js';
