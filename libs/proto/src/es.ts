/**
 * `@gofer/proto/es`: the same API contract as Protobuf-ES schemas (generated into `gen-es/` by
 * protoc-gen-es), for Connect: the browser API (apps/gofer/src/api/browser-api.ts) and the web UI. A
 * subpath of its own so that neither loads grpc-js, and the CLI does not load these schemas.
 */
export * from './gen-es/gofer/v1/gofer_pb.js';
export * from './gen-es/gofer/v1/trigger_pb.js';
