import { fileURLToPath } from 'node:url';
import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';

/**
 * Absolute path of the repository's `proto/` directory (the include root of every `.proto` file).
 * Resolved from this module's own location, so it is the same from `libs/proto/src` (tests, tsx) and
 * from `libs/proto/dist` (the built program).
 */
export const PROTO_PATH: string = fileURLToPath(new URL('../../../proto', import.meta.url));

/** The Gofer API's proto file, relative to {@link PROTO_PATH}. */
export const GOFER_PROTO_FILE = 'gofer/v1/gofer.proto';

/** Protobuf package of the Gofer API. */
export const GOFER_PACKAGE = 'gofer.v1';

/** Service name inside {@link GOFER_PACKAGE}; the full name is `gofer.v1.Gofer`. */
export const GOFER_SERVICE = 'Gofer';

/**
 * `@grpc/proto-loader` options that servers and clients must both use: the types generated into
 * `gen/` (camelCase keys, int64 as number, enums as their string names, unset messages as `null`)
 * describe exactly the objects these options produce.
 */
export const PROTO_LOADER_OPTIONS = Object.freeze({
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
}) satisfies Options;

let cached: PackageDefinition | undefined;

/** Loads (once per process) the package definition of the Gofer API with {@link PROTO_LOADER_OPTIONS}. */
export function loadGoferPackageDefinition(): PackageDefinition {
  cached ??= loadSync(GOFER_PROTO_FILE, { ...PROTO_LOADER_OPTIONS, includeDirs: [PROTO_PATH] });
  return cached;
}

/** The trigger contract's proto file (served by trigger containers), relative to {@link PROTO_PATH}. */
export const TRIGGER_PROTO_FILE = 'gofer/v1/trigger.proto';

/** Service name of the trigger contract inside {@link GOFER_PACKAGE}: `gofer.v1.Trigger`. */
export const TRIGGER_SERVICE = 'Trigger';

let cachedTrigger: PackageDefinition | undefined;

/** Loads (once per process) the trigger contract with {@link PROTO_LOADER_OPTIONS}. */
export function loadTriggerPackageDefinition(): PackageDefinition {
  cachedTrigger ??= loadSync(TRIGGER_PROTO_FILE, { ...PROTO_LOADER_OPTIONS, includeDirs: [PROTO_PATH] });
  return cachedTrigger;
}
