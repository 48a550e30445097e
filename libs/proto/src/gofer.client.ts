import type { Readable } from 'node:stream';
import {
  Client,
  credentials as grpcCredentials,
  Metadata,
  status,
  type CallOptions,
  type ChannelCredentials,
  type ServiceError,
} from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import type * as v1 from './gen/gofer/v1/gofer.js';
import type * as t from './gen/gofer/v1/trigger.js';
import { GOFER_PACKAGE, GOFER_SERVICE, loadGoferPackageDefinition } from './gofer-proto.js';

/**
 * A request whose fields `K` a caller may leave out: proto3 sends an absent field as its default, so
 * fields added to a request later stay optional for the clients written before them.
 */
export type WithOptional<T, K extends keyof T> = Omit<T, K> & Partial<Pick<T, K>>;

/**
 * Every unary RPC of `gofer.v1.Gofer`, by its camelCase client method name, as
 * `[request, response]`. Adding an RPC to the proto means adding it here (and the type check fails
 * until the client exposes it).
 */
export interface GoferUnaryMethods {
  getSystemInfo: [v1.GetSystemInfoRequest, v1.GetSystemInfoResponse];
  applyPipelineConfig: [v1.ApplyPipelineConfigRequest, v1.ApplyPipelineConfigResponse];
  getPipeline: [v1.GetPipelineRequest, v1.GetPipelineResponse];
  listPipelines: [v1.ListPipelinesRequest, v1.ListPipelinesResponse];
  enablePipeline: [v1.EnablePipelineRequest, v1.EnablePipelineResponse];
  disablePipeline: [v1.DisablePipelineRequest, v1.DisablePipelineResponse];
  deletePipeline: [v1.DeletePipelineRequest, v1.DeletePipelineResponse];
  listPipelineConfigs: [v1.ListPipelineConfigsRequest, v1.ListPipelineConfigsResponse];
  startRun: [WithOptional<v1.StartRunRequest, 'idempotencyKey'>, v1.StartRunResponse];
  getRun: [v1.GetRunRequest, v1.GetRunResponse];
  listRuns: [v1.ListRunsRequest, v1.ListRunsResponse];
  cancelRun: [v1.CancelRunRequest, v1.CancelRunResponse];
  cancelAllRuns: [v1.CancelAllRunsRequest, v1.CancelAllRunsResponse];
  retryRun: [v1.RetryRunRequest, v1.RetryRunResponse];
  getTaskRun: [v1.GetTaskRunRequest, v1.GetTaskRunResponse];
  listTaskRuns: [v1.ListTaskRunsRequest, v1.ListTaskRunsResponse];
  cancelTaskRun: [v1.CancelTaskRunRequest, v1.CancelTaskRunResponse];
  /** Never sends the client's token: it is the one call made before any token exists. */
  bootstrapToken: [v1.BootstrapTokenRequest, v1.BootstrapTokenResponse];
  createToken: [v1.CreateTokenRequest, v1.CreateTokenResponse];
  listTokens: [v1.ListTokensRequest, v1.ListTokensResponse];
  getToken: [v1.GetTokenRequest, v1.GetTokenResponse];
  whoAmI: [v1.WhoAmIRequest, v1.WhoAmIResponse];
  deleteToken: [v1.DeleteTokenRequest, v1.DeleteTokenResponse];
  enableToken: [v1.EnableTokenRequest, v1.EnableTokenResponse];
  disableToken: [v1.DisableTokenRequest, v1.DisableTokenResponse];
  createNamespace: [v1.CreateNamespaceRequest, v1.CreateNamespaceResponse];
  getNamespace: [v1.GetNamespaceRequest, v1.GetNamespaceResponse];
  listNamespaces: [v1.ListNamespacesRequest, v1.ListNamespacesResponse];
  deleteNamespace: [v1.DeleteNamespaceRequest, v1.DeleteNamespaceResponse];
  listPipelineObjects: [v1.ListPipelineObjectsRequest, v1.ListPipelineObjectsResponse];
  deletePipelineObject: [v1.DeletePipelineObjectRequest, v1.DeletePipelineObjectResponse];
  listRunObjects: [v1.ListRunObjectsRequest, v1.ListRunObjectsResponse];
  deleteRunObject: [v1.DeleteRunObjectRequest, v1.DeleteRunObjectResponse];
  putPipelineSecret: [v1.PutPipelineSecretRequest, v1.PutPipelineSecretResponse];
  getPipelineSecret: [v1.GetPipelineSecretRequest, v1.GetPipelineSecretResponse];
  listPipelineSecrets: [v1.ListPipelineSecretsRequest, v1.ListPipelineSecretsResponse];
  deletePipelineSecret: [v1.DeletePipelineSecretRequest, v1.DeletePipelineSecretResponse];
  putGlobalSecret: [v1.PutGlobalSecretRequest, v1.PutGlobalSecretResponse];
  getGlobalSecret: [v1.GetGlobalSecretRequest, v1.GetGlobalSecretResponse];
  listGlobalSecrets: [v1.ListGlobalSecretsRequest, v1.ListGlobalSecretsResponse];
  deleteGlobalSecret: [v1.DeleteGlobalSecretRequest, v1.DeleteGlobalSecretResponse];
  installTrigger: [v1.InstallTriggerRequest, v1.InstallTriggerResponse];
  uninstallTrigger: [v1.UninstallTriggerRequest, v1.UninstallTriggerResponse];
  listTriggers: [v1.ListTriggersRequest, v1.ListTriggersResponse];
  getTrigger: [v1.GetTriggerRequest, v1.GetTriggerResponse];
  /** Sends the trigger's key, not a token: construct the client with `token: <trigger key>`. */
  postTriggerEvent: [t.PostTriggerEventRequest, t.PostTriggerEventResponse];
  installNotifier: [v1.InstallNotifierRequest, v1.InstallNotifierResponse];
  uninstallNotifier: [v1.UninstallNotifierRequest, v1.UninstallNotifierResponse];
  listNotifiers: [v1.ListNotifiersRequest, v1.ListNotifiersResponse];
  getNotifier: [v1.GetNotifierRequest, v1.GetNotifierResponse];
}

/**
 * Every server-streaming RPC of `gofer.v1.Gofer`, as `[request, streamed message]`. Object downloads
 * stream the object's `info` first, then `chunk`s of its content.
 */
export interface GoferStreamMethods {
  getTaskRunLogs: [v1.GetTaskRunLogsRequest, v1.GetTaskRunLogsResponse];
  getPipelineObject: [v1.GetPipelineObjectRequest, v1.GetPipelineObjectResponse];
  getRunObject: [v1.GetRunObjectRequest, v1.GetRunObjectResponse];
  listEvents: [v1.ListEventsRequest, v1.ListEventsResponse];
}

/**
 * Every client-streaming RPC of `gofer.v1.Gofer` (object uploads), as `[header, response]`: the client
 * sends the header message, then the body in chunks of at most {@link OBJECT_CHUNK_BYTES}.
 */
export interface GoferUploadMethods {
  putPipelineObject: [v1.PutPipelineObjectHeader, v1.PutPipelineObjectResponse];
  putRunObject: [v1.PutRunObjectHeader, v1.PutRunObjectResponse];
}

/**
 * The content of an upload: bytes, or anything that yields them — a `Readable` (a file, stdin), an
 * async generator. Chunks of any size are accepted (bigger ones are split); string chunks are sent as
 * UTF-8. As with any Node stream, a chunk's memory must not be reused after it was yielded.
 */
export type UploadBody = Uint8Array | AsyncIterable<Uint8Array | string> | Readable;

/**
 * A promise-based client of `gofer.v1.Gofer`. Failed calls reject with a grpc-js {@link ServiceError}.
 *
 * Server streams are async iterables: leaving the `for await` loop early (break, return, throw)
 * cancels the call. Uploads resolve with the server's response once it stored the whole body, and
 * reject with the server's status if it ends the call early, or with the body's own error if reading
 * the body fails (the call is then cancelled).
 */
export type GoferClient = {
  [K in keyof GoferUnaryMethods]: (request: GoferUnaryMethods[K][0]) => Promise<GoferUnaryMethods[K][1]>;
} & {
  [K in keyof GoferStreamMethods]: (request: GoferStreamMethods[K][0]) => AsyncIterable<GoferStreamMethods[K][1]>;
} & {
  [K in keyof GoferUploadMethods]: (header: GoferUploadMethods[K][0], body: UploadBody) => Promise<GoferUploadMethods[K][1]>;
} & {
  /** Closes the channel; calls in flight fail with CANCELLED. */
  close(): void;
};

/** Options of {@link createGoferClient}. */
export interface GoferClientOptions {
  /** `host:port` of a Gofer API, e.g. `127.0.0.1:8080`. */
  address: string;
  /** API token, sent as `authorization: Bearer <token>` on every call but `bootstrapToken`. */
  token?: string;
  /**
   * Deadline of each unary call, in milliseconds. Streams and uploads have none (a followed log
   * stream lasts as long as its task, a big upload as long as the network needs).
   * @default 30000
   */
  timeoutMs?: number;
  /**
   * Channel credentials.
   * @default plaintext (`credentials.createInsecure()`)
   */
  credentials?: ChannelCredentials;
}

/** Largest message the client accepts: a generous bound for list responses and log chunks. */
export const MAX_RECEIVE_MESSAGE_BYTES = 8 * 1024 * 1024;
/** Largest message the client sends (pipeline configs are the big ones). */
export const MAX_SEND_MESSAGE_BYTES = 8 * 1024 * 1024;
/** Largest content chunk of an object upload message, as the proto allows (1 MiB). */
export const OBJECT_CHUNK_BYTES = 1024 * 1024;

// Unary RPCs, with the `satisfies` making the list and GoferUnaryMethods agree both ways.
const UNARY_METHODS = Object.keys({
  getSystemInfo: 1,
  applyPipelineConfig: 1,
  getPipeline: 1,
  listPipelines: 1,
  enablePipeline: 1,
  disablePipeline: 1,
  deletePipeline: 1,
  listPipelineConfigs: 1,
  startRun: 1,
  getRun: 1,
  listRuns: 1,
  cancelRun: 1,
  cancelAllRuns: 1,
  retryRun: 1,
  getTaskRun: 1,
  listTaskRuns: 1,
  cancelTaskRun: 1,
  bootstrapToken: 1,
  createToken: 1,
  listTokens: 1,
  getToken: 1,
  whoAmI: 1,
  deleteToken: 1,
  enableToken: 1,
  disableToken: 1,
  createNamespace: 1,
  getNamespace: 1,
  listNamespaces: 1,
  deleteNamespace: 1,
  listPipelineObjects: 1,
  deletePipelineObject: 1,
  listRunObjects: 1,
  deleteRunObject: 1,
  putPipelineSecret: 1,
  getPipelineSecret: 1,
  listPipelineSecrets: 1,
  deletePipelineSecret: 1,
  putGlobalSecret: 1,
  getGlobalSecret: 1,
  listGlobalSecrets: 1,
  deleteGlobalSecret: 1,
  installTrigger: 1,
  uninstallTrigger: 1,
  listTriggers: 1,
  getTrigger: 1,
  postTriggerEvent: 1,
  installNotifier: 1,
  uninstallNotifier: 1,
  listNotifiers: 1,
  getNotifier: 1,
} satisfies Record<keyof GoferUnaryMethods, 1>) as Array<keyof GoferUnaryMethods>;

const STREAM_METHODS = Object.keys({
  getTaskRunLogs: 1,
  getPipelineObject: 1,
  getRunObject: 1,
  listEvents: 1,
} satisfies Record<keyof GoferStreamMethods, 1>) as Array<keyof GoferStreamMethods>;

// Each upload's header goes in the `header` member of the request's `part` oneof.
const UPLOAD_METHODS = Object.keys({
  putPipelineObject: 1,
  putRunObject: 1,
} satisfies Record<keyof GoferUploadMethods, 1>) as Array<keyof GoferUploadMethods>;

/** RPCs that must be callable without a token, so they never carry one (a stale token would only get in the way). */
const ANONYMOUS_METHODS: ReadonlySet<string> = new Set(['bootstrapToken']);

type AnyMethod = MethodDefinition<object, object>;

function methodDefinition(name: string): AnyMethod {
  const service = loadGoferPackageDefinition()[`${GOFER_PACKAGE}.${GOFER_SERVICE}`] as Record<string, AnyMethod>;
  const rpc = name[0]!.toUpperCase() + name.slice(1);
  const method = service[rpc];
  if (!method) throw new Error(`${GOFER_PACKAGE}.${GOFER_SERVICE} has no RPC ${rpc}: regenerate with npm run proto`);
  return method;
}

/** True when `err` is the error of a failed gRPC call (it carries a status `code` and `details`). */
export function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as Partial<ServiceError>).code === 'number' && 'details' in err;
}

/**
 * Re-cuts a body into chunks of at most `maxBytes` (bigger input chunks are split without copying;
 * empty ones dropped), pulling the next input chunk only when the previous one was consumed.
 */
export async function* splitChunks(body: UploadBody, maxBytes: number = OBJECT_CHUNK_BYTES): AsyncGenerator<Uint8Array> {
  if (!(maxBytes > 0)) throw new RangeError(`maxBytes must be positive, not ${maxBytes}`);
  const source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array> = body instanceof Uint8Array ? [body] : body;
  for await (const piece of source) {
    const bytes = typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece;
    for (let offset = 0; offset < bytes.length; offset += maxBytes) {
      yield bytes.subarray(offset, Math.min(offset + maxBytes, bytes.length));
    }
  }
}

/**
 * Creates a client of the Gofer API. The connection is made lazily by the first call; when nothing
 * listens at `address`, calls fail fast with status UNAVAILABLE.
 *
 * @example
 * const gofer = createGoferClient({ address: '127.0.0.1:8080', token: process.env.GOFER_TOKEN });
 * const { run } = await gofer.startRun({ namespaceId: 'default', pipelineId: 'hello', variables: {} });
 * await gofer.putRunObject(
 *   { namespaceId: 'default', pipelineId: 'hello', runId: run!.id, key: 'report.tar' },
 *   createReadStream('report.tar'),
 * );
 * gofer.close();
 */
export function createGoferClient(options: GoferClientOptions): GoferClient {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const client = new Client(options.address, options.credentials ?? grpcCredentials.createInsecure(), {
    'grpc.max_receive_message_length': MAX_RECEIVE_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_SEND_MESSAGE_BYTES,
  });

  const metadata = (name: string): Metadata => {
    const md = new Metadata();
    // HTTP/2 drops a header value that starts or ends with whitespace (a token pasted with a newline).
    if (options.token?.trim() && !ANONYMOUS_METHODS.has(name)) md.set('authorization', `Bearer ${options.token.trim()}`);
    return md;
  };

  const unary = (name: string) => {
    const method = methodDefinition(name);
    return (request: object): Promise<object> =>
      new Promise((resolve, reject) => {
        const callOptions: CallOptions = { deadline: Date.now() + timeoutMs };
        client.makeUnaryRequest(
          method.path,
          method.requestSerialize,
          method.responseDeserialize,
          request,
          metadata(name),
          callOptions,
          (err, response) => (err ? reject(err) : resolve(response!)),
        );
      });
  };

  // No deadline: a followed log or event stream, or a big download, lasts as long as it needs.
  const serverStream = (name: string) => {
    const method = methodDefinition(name);
    return (request: object): AsyncIterable<object> => ({
      async *[Symbol.asyncIterator]() {
        const call = client.makeServerStreamRequest(
          method.path,
          method.requestSerialize,
          method.responseDeserialize,
          request,
          metadata(name),
        );
        let finished = false;
        try {
          for await (const message of call) yield message as object;
          finished = true;
        } finally {
          // The consumer stopped early (break, throw): end the call so the server stops sending.
          if (!finished) {
            call.on('error', () => {});
            call.cancel();
          }
        }
      },
    });
  };

  // No deadline either: a 500 MB upload takes as long as the network needs.
  const upload = (name: string) => {
    const method = methodDefinition(name);
    return (header: object, body: UploadBody): Promise<object> =>
      new Promise((resolve, reject) => {
        let ended = false;
        let bodyError: { error: unknown } | undefined;
        let onEnded!: () => void;
        const callEnded = new Promise<void>((resolve) => (onEnded = resolve));
        const call = client.makeClientStreamRequest(
          method.path,
          method.requestSerialize,
          method.responseDeserialize,
          metadata(name),
          {},
          (err, response) => {
            ended = true;
            onEnded();
            // Reading the body failed and we cancelled the call: that failure is the one to report.
            if (bodyError) reject(bodyError.error);
            else if (err) reject(err);
            else resolve(response!);
          },
        );
        // Write one message; when grpc-js's buffer is full, wait until it drained (or the call ended),
        // so the body is read only as fast as the network (and the server) take it.
        const send = async (message: object): Promise<void> => {
          if (call.write(message)) return;
          let onDrain!: () => void;
          const drained = new Promise<void>((resolve) => (onDrain = resolve));
          call.once('drain', onDrain);
          try {
            await Promise.race([drained, callEnded]);
          } finally {
            call.off('drain', onDrain);
          }
        };
        void (async () => {
          try {
            await send({ header });
            // Leaving this loop early (the server answered) closes the body, e.g. the file being read;
            // checking right after each send means no chunk is read once the call is over.
            for await (const chunk of splitChunks(body, OBJECT_CHUNK_BYTES)) {
              if (ended) break;
              await send({ chunk });
              if (ended) break;
            }
            if (!ended) call.end();
          } catch (error) {
            if (ended) return;
            bodyError = { error };
            call.cancel();
          }
        })();
      });
  };

  const api: Record<string, unknown> = {};
  for (const name of UNARY_METHODS) api[name] = unary(name);
  for (const name of STREAM_METHODS) api[name] = serverStream(name);
  for (const name of UPLOAD_METHODS) api[name] = upload(name);
  api.close = () => client.close();
  return api as GoferClient;
}

export { status as GrpcStatus };
