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
import { GOFER_PACKAGE, GOFER_SERVICE, loadGoferPackageDefinition } from './gofer-proto.js';

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
  startRun: [v1.StartRunRequest, v1.StartRunResponse];
  getRun: [v1.GetRunRequest, v1.GetRunResponse];
  listRuns: [v1.ListRunsRequest, v1.ListRunsResponse];
  cancelRun: [v1.CancelRunRequest, v1.CancelRunResponse];
  cancelAllRuns: [v1.CancelAllRunsRequest, v1.CancelAllRunsResponse];
  retryRun: [v1.RetryRunRequest, v1.RetryRunResponse];
  getTaskRun: [v1.GetTaskRunRequest, v1.GetTaskRunResponse];
  listTaskRuns: [v1.ListTaskRunsRequest, v1.ListTaskRunsResponse];
  cancelTaskRun: [v1.CancelTaskRunRequest, v1.CancelTaskRunResponse];
}

/** Every server-streaming RPC of `gofer.v1.Gofer`, as `[request, streamed message]`. */
export interface GoferStreamMethods {
  getTaskRunLogs: [v1.GetTaskRunLogsRequest, v1.GetTaskRunLogsResponse];
}

/** A promise-based client of `gofer.v1.Gofer`. Failed calls reject with a grpc-js {@link ServiceError}. */
export type GoferClient = {
  [K in keyof GoferUnaryMethods]: (request: GoferUnaryMethods[K][0]) => Promise<GoferUnaryMethods[K][1]>;
} & {
  [K in keyof GoferStreamMethods]: (request: GoferStreamMethods[K][0]) => AsyncIterable<GoferStreamMethods[K][1]>;
} & {
  /** Closes the channel; calls in flight fail with CANCELLED. */
  close(): void;
};

/** Options of {@link createGoferClient}. */
export interface GoferClientOptions {
  /** `host:port` of a Gofer API, e.g. `127.0.0.1:8080`. */
  address: string;
  /** API token, sent as `authorization: Bearer <token>` on every call. */
  token?: string;
  /**
   * Deadline of each unary call, in milliseconds. Streams have none (a followed log stream lasts as
   * long as its task).
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

const UNARY_METHODS: ReadonlyArray<keyof GoferUnaryMethods> = [
  'getSystemInfo',
  'applyPipelineConfig',
  'getPipeline',
  'listPipelines',
  'enablePipeline',
  'disablePipeline',
  'deletePipeline',
  'listPipelineConfigs',
  'startRun',
  'getRun',
  'listRuns',
  'cancelRun',
  'cancelAllRuns',
  'retryRun',
  'getTaskRun',
  'listTaskRuns',
  'cancelTaskRun',
];

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
 * Creates a client of the Gofer API. The connection is made lazily by the first call; when nothing
 * listens at `address`, calls fail fast with status UNAVAILABLE.
 *
 * @example
 * const gofer = createGoferClient({ address: '127.0.0.1:8080', token: process.env.GOFER_TOKEN });
 * const { run } = await gofer.startRun({ namespaceId: 'default', pipelineId: 'hello', variables: {} });
 * gofer.close();
 */
export function createGoferClient(options: GoferClientOptions): GoferClient {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const client = new Client(options.address, options.credentials ?? grpcCredentials.createInsecure(), {
    'grpc.max_receive_message_length': MAX_RECEIVE_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_SEND_MESSAGE_BYTES,
  });

  const metadata = (): Metadata => {
    const md = new Metadata();
    if (options.token) md.set('authorization', `Bearer ${options.token}`);
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
          metadata(),
          callOptions,
          (err, response) => (err ? reject(err) : resolve(response!)),
        );
      });
  };

  const api: Record<string, unknown> = Object.fromEntries(UNARY_METHODS.map((name) => [name, unary(name)]));

  const logs = methodDefinition('getTaskRunLogs');
  api.getTaskRunLogs = (request: v1.GetTaskRunLogsRequest): AsyncIterable<v1.GetTaskRunLogsResponse> => ({
    async *[Symbol.asyncIterator]() {
      const call = client.makeServerStreamRequest(
        logs.path,
        logs.requestSerialize,
        logs.responseDeserialize,
        request,
        metadata(),
      );
      let finished = false;
      try {
        for await (const message of call) yield message as v1.GetTaskRunLogsResponse;
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

  api.close = () => client.close();
  return api as GoferClient;
}

export { status as GrpcStatus };
