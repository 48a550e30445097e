// A small real gRPC server speaking gofer.v1.Gofer, for testing the client and the CLI over a real
// socket before (and independently of) the real API. It serves canned pipelines and runs, keeps tokens,
// namespaces, objects and secrets in memory, and records what it received so tests can check requests
// and metadata.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import {
  Server,
  ServerCredentials,
  status,
  type sendUnaryData,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import {
  GOFER_PACKAGE,
  GOFER_SERVICE,
  loadGoferPackageDefinition,
  LogStream,
  OBJECT_CHUNK_BYTES,
  PipelineState,
  RunState,
  RunStatus,
  StatusReasonKind,
  TaskRunState,
  TaskRunStatus,
  TokenKind,
  type ApplyPipelineConfigRequest,
  type CreateNamespaceRequest,
  type CreateTokenRequest,
  type DeleteNamespaceRequest,
  type Event,
  type GetPipelineRequest,
  type GetRunRequest,
  type GetTaskRunLogsRequest,
  type GetTaskRunLogsResponse,
  type ListEventsRequest,
  type ListTaskRunsRequest,
  type Namespace,
  type ObjectInfo,
  type Pipeline,
  type PutGlobalSecretRequest,
  type PutPipelineObjectHeader,
  type PutPipelineSecretRequest,
  type PutRunObjectHeader,
  type Run,
  type Secret,
  type StartRunRequest,
  type TaskRun,
  type Token,
} from '@gofer/proto';

/** An address where nothing listens: a port we bound and released. */
export async function deadAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `127.0.0.1:${port}`;
}

export const CREATED = Date.UTC(2025, 0, 2, 3, 4, 5);

export interface StubGofer {
  address: string;
  /** `authorization` metadata of every call, in order (undefined when absent). */
  authorizations: Array<string | undefined>;
  applied: ApplyPipelineConfigRequest[];
  started: StartRunRequest[];
  /** Resolves when a log stream was cancelled by the client. */
  logStreamCancelled: Promise<void>;
  /** Resolves when a followed event stream was cancelled by the client. */
  eventStreamCancelled: Promise<void>;
  /** Requests of the token, namespace and secret RPCs that change something, in order. */
  createdTokens: CreateTokenRequest[];
  createdNamespaces: CreateNamespaceRequest[];
  deletedNamespaces: DeleteNamespaceRequest[];
  pipelineSecretPuts: PutPipelineSecretRequest[];
  globalSecretPuts: PutGlobalSecretRequest[];
  eventRequests: ListEventsRequest[];
  /** Every upload that completed or failed: its header, how many bytes arrived, its biggest chunk. */
  uploads: UploadRecord[];
  /** Stored objects by `namespace/pipeline/KEY` or `namespace/pipeline/RUN/KEY`. */
  objects: Map<string, StoredObject>;
  close(): Promise<void>;
}

export interface UploadRecord {
  header: PutPipelineObjectHeader | PutRunObjectHeader;
  bytes: number;
  chunks: number;
  largestChunk: number;
}

export interface StoredObject {
  info: ObjectInfo;
  content: Buffer;
}

/**
 * Object keys with a special behaviour in the stub's uploads: `forbidden` is refused as soon as the
 * header arrives (PERMISSION_DENIED), `too-big` after STUB_SLOW_REJECT_MS with the first chunk read and
 * the call paused meanwhile (so a client that ignores backpressure piles data up), RESOURCE_EXHAUSTED.
 */
export const FORBIDDEN_KEY = 'forbidden';
export const TOO_BIG_KEY = 'too-big';
const STUB_SLOW_REJECT_MS = 300;

/** The events the stub stores, as ListEvents streams them without --follow. */
export const STUB_EVENTS: readonly Event[] = [
  { id: 1, kind: 'namespace_created', namespaceId: 'default', pipelineId: '', runId: 0, taskId: '', details: '{"name":"Default"}', emitted: CREATED },
  { id: 2, kind: 'run_started', namespaceId: 'default', pipelineId: 'hello', runId: 1, taskId: '', details: '{"trigger":"manual"}', emitted: CREATED + 1_000 },
  { id: 3, kind: 'task_run_completed', namespaceId: 'team-a', pipelineId: 'hello', runId: 1, taskId: 'greet', details: '{"status":"successful","exit_code":0}', emitted: CREATED + 2_000 },
];

/** The pipelines the stub knows: `hello` runs succeed, `broken` runs fail, `unpullable` runs fail before their container starts. */
function pipeline(namespaceId: string, id: string): Pipeline {
  return {
    namespaceId,
    id,
    name: id === 'hello' ? 'Hello' : id,
    description: 'Says hello.',
    state: PipelineState.PIPELINE_STATE_DISABLED,
    parallelism: 2,
    latestConfigVersion: 3,
    created: CREATED,
    updated: CREATED + 60_000,
  };
}

const POLLS_UNTIL_COMPLETE = 2;

/** A message of an upload as it arrives: the `part` oneof's header or chunk. */
type PutPart = { header?: PutPipelineObjectHeader | PutRunObjectHeader | null; chunk?: Uint8Array | null };

export async function startStubGofer(): Promise<StubGofer> {
  const authorizations: Array<string | undefined> = [];
  const applied: ApplyPipelineConfigRequest[] = [];
  const started: StartRunRequest[] = [];
  const polls = new Map<string, number>();
  const logDrops = new Map<string, number>();
  let onLogCancel!: () => void;
  const logStreamCancelled = new Promise<void>((resolve) => (onLogCancel = resolve));
  let onEventCancel!: () => void;
  const eventStreamCancelled = new Promise<void>((resolve) => (onEventCancel = resolve));
  const createdTokens: CreateTokenRequest[] = [];
  const createdNamespaces: CreateNamespaceRequest[] = [];
  const deletedNamespaces: DeleteNamespaceRequest[] = [];
  const pipelineSecretPuts: PutPipelineSecretRequest[] = [];
  const globalSecretPuts: PutGlobalSecretRequest[] = [];
  const eventRequests: ListEventsRequest[] = [];
  const uploads: UploadRecord[] = [];
  const objects = new Map<string, StoredObject>();
  const tokens = new Map<string, { token: Token; secret: string }>();
  const namespaces = new Map<string, Namespace>([
    ['default', { id: 'default', name: 'Default', description: 'Where pipelines go without --namespace.', created: CREATED }],
  ]);
  const pipelineSecrets = new Map<string, Secret>();
  const globalSecrets = new Map<string, Secret>();
  // The stub's clock for stored things: fixed, so outputs are predictable.
  const STORED = CREATED + 3_600_000;

  const record = (call: { metadata: { get(key: string): unknown[] } }) =>
    authorizations.push(call.metadata.get('authorization')[0] as string | undefined);

  const known = (id: string) => id === 'hello' || id === 'broken' || id === 'unpullable';
  const notFound = (what: string) => ({ code: status.NOT_FOUND, details: `${what} not found` });

  /** The run as the stub makes it progress: running for the first polls (GetRun calls), then complete. */
  const runOf = (ref: { namespaceId: string; pipelineId: string; runId: number }, poll: boolean): Run => {
    const key = `${ref.pipelineId}/${ref.runId}`;
    const seen = polls.get(key) ?? 0;
    if (poll) polls.set(key, seen + 1);
    const complete = seen >= POLLS_UNTIL_COMPLETE;
    const ok = ref.pipelineId === 'hello';
    return {
      namespaceId: ref.namespaceId,
      pipelineId: ref.pipelineId,
      id: ref.runId,
      state: complete ? RunState.RUN_STATE_COMPLETE : RunState.RUN_STATE_RUNNING,
      status: !complete ? RunStatus.RUN_STATUS_UNSPECIFIED : ok ? RunStatus.RUN_STATUS_SUCCESSFUL : RunStatus.RUN_STATUS_FAILED,
      statusReason:
        complete && !ok
          ? { reason: StatusReasonKind.STATUS_REASON_KIND_ABNORMAL_EXIT, description: 'task greet failed' }
          : null,
      started: CREATED,
      ended: complete ? CREATED + 2_500 : 0,
      variables: { WHO: 'world' },
      configVersion: 3,
      retryOf: 0,
      startedBy: 'token/tok_0123456789abcdef',
      notifications: [],
      waitingReason: null,
    };
  };

  const taskRunOf = (run: Run): TaskRun => {
    const complete = run.state === RunState.RUN_STATE_COMPLETE;
    const ok = run.status === RunStatus.RUN_STATUS_SUCCESSFUL;
    const unstarted = run.pipelineId === 'unpullable';
    return {
      namespaceId: run.namespaceId,
      pipelineId: run.pipelineId,
      runId: run.id,
      taskId: 'greet',
      attempt: 1,
      state: complete ? TaskRunState.TASK_RUN_STATE_COMPLETE : TaskRunState.TASK_RUN_STATE_RUNNING,
      status: !complete ? TaskRunStatus.TASK_RUN_STATUS_UNSPECIFIED : ok ? TaskRunStatus.TASK_RUN_STATUS_SUCCESSFUL : TaskRunStatus.TASK_RUN_STATUS_FAILED,
      statusReason: !complete || ok ? null : unstarted
        ? { reason: StatusReasonKind.STATUS_REASON_KIND_SCHEDULER_ERROR, description: 'image "127.0.0.1:1/nope:latest" could not be pulled: connection refused' }
        : { reason: StatusReasonKind.STATUS_REASON_KIND_ABNORMAL_EXIT, description: 'exited with code 3' },
      // Absent until the container exits, as the real API does (and for a container that never started).
      exitCode: complete && !unstarted ? (ok ? 0 : 3) : undefined,
      image: 'busybox:latest',
      schedulerId: 'c0ffee',
      workerId: 'worker-1',
      started: CREATED,
      ended: complete ? CREATED + 2_000 : 0,
      waitingReason: null,
    };
  };

  const secretOf = (authorization: string | undefined) => /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
  const callerToken = (call: { metadata: { get(key: string): unknown[] } }): Token | undefined => {
    const secret = secretOf(call.metadata.get('authorization')[0] as string | undefined);
    return [...tokens.values()].find((t) => t.secret === secret && !t.token.disabled)?.token;
  };
  const unauthenticated = () => ({ code: status.UNAUTHENTICATED, details: 'missing or unknown token' });
  const issue = (request: CreateTokenRequest) => {
    const n = tokens.size + 1;
    // Tokens live on the real clock: whether one has expired depends on now.
    const now = Date.now();
    const token: Token = {
      id: `tok-${n}`,
      kind: request.kind,
      namespaces: request.namespaces,
      metadata: request.metadata,
      created: now,
      expires: request.expiresInSeconds ? now + request.expiresInSeconds * 1000 : 0,
      disabled: false,
    };
    const secret = `secret-${n}-${'x'.repeat(20)}`;
    tokens.set(token.id, { token, secret });
    return { token, secret };
  };

  const pipelineObjectKey = (h: PutPipelineObjectHeader) => `${h.namespaceId}/${h.pipelineId}/${h.key}`;
  const runObjectKey = (h: PutRunObjectHeader) => `${h.namespaceId}/${h.pipelineId}/${h.runId}/${h.key}`;
  const listObjects = (prefix: string) =>
    [...objects]
      .filter(([id]) => id.startsWith(prefix) && !id.slice(prefix.length).includes('/'))
      .map(([, o]) => o.info)
      .reverse();

  /** Reads an upload: the header, then chunks, hashing as they come; special keys misbehave on purpose. */
  const receiveObject = (
    call: ServerReadableStream<PutPart, unknown>,
    storageKey: (header: PutPipelineObjectHeader | PutRunObjectHeader) => string,
    callback: sendUnaryData<unknown>,
    pipelineScoped: boolean,
  ) => {
    let upload: UploadRecord | undefined;
    const hash = createHash('sha256');
    const parts: Buffer[] = [];
    let answered = false;
    const answer = (...args: Parameters<sendUnaryData<unknown>>) => {
      if (answered) return;
      answered = true;
      callback(...args);
    };
    call.on('data', (message: PutPart) => {
      if (answered) return;
      if (!upload) {
        if (!message.header) return answer({ code: status.INVALID_ARGUMENT, details: 'the first message must carry the header' });
        upload = { header: message.header, bytes: 0, chunks: 0, largestChunk: 0 };
        uploads.push(upload);
        if (message.header.key === FORBIDDEN_KEY) {
          return answer({ code: status.PERMISSION_DENIED, details: `token may not write objects in namespace "${message.header.namespaceId}"` });
        }
        return;
      }
      const chunk = Buffer.from(message.chunk ?? []);
      upload.bytes += chunk.length;
      upload.chunks++;
      upload.largestChunk = Math.max(upload.largestChunk, chunk.length);
      if (upload.header.key === TOO_BIG_KEY) {
        // Stop reading (so backpressure reaches the client), then refuse.
        call.pause();
        setTimeout(
          () => answer({ code: status.RESOURCE_EXHAUSTED, details: 'object larger than the limit (GOFER_MAX_OBJECT_BYTES)' }),
          STUB_SLOW_REJECT_MS,
        );
        return;
      }
      hash.update(chunk);
      parts.push(chunk);
    });
    call.on('end', () => {
      if (answered || !upload) return answered ? undefined : answer({ code: status.INVALID_ARGUMENT, details: 'no header' });
      const content = Buffer.concat(parts);
      const info: ObjectInfo = { key: upload.header.key, size: content.length, sha256: hash.digest('hex'), created: STORED };
      objects.set(storageKey(upload.header), { info, content });
      answer(null, pipelineScoped ? { object: info, evicted: upload.header.key === 'evicts' ? ['oldest'] : [] } : { object: info });
    });
  };

  /** Streams an object: info first, then 1 MiB chunks, waiting for the client when it reads slowly. */
  const sendObject = async (call: ServerWritableStream<unknown, unknown>, id: string) => {
    const stored = objects.get(id);
    if (!stored) return call.emit('error', notFound(`object "${id.split('/').at(-1)}"`));
    call.write({ info: stored.info });
    for (let offset = 0; offset < stored.content.length; offset += OBJECT_CHUNK_BYTES) {
      if (call.cancelled) return;
      if (!call.write({ chunk: stored.content.subarray(offset, offset + OBJECT_CHUNK_BYTES) })) await once(call, 'drain');
    }
    call.end();
  };

  const handlers: UntypedServiceImplementation = {
    GetPipeline(call: ServerUnaryCall<GetPipelineRequest, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      const { namespaceId, id } = call.request;
      if (!known(id)) return callback(notFound(`pipeline "${id}"`));
      callback(null, { pipeline: pipeline(namespaceId, id) });
    },
    ApplyPipelineConfig(call: ServerUnaryCall<ApplyPipelineConfigRequest, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      applied.push(call.request);
      const text = Buffer.from(call.request.config).toString('utf8');
      if (text.includes('buidl')) {
        return callback({
          code: status.INVALID_ARGUMENT,
          details: 'tasks[3].depends_on.buidl: unknown task "buidl"\ntasks[0].image: required',
        });
      }
      callback(null, { pipeline: pipeline(call.request.namespaceId, 'hello'), version: 4 });
    },
    StartRun(call: ServerUnaryCall<StartRunRequest, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      started.push(call.request);
      if (!known(call.request.pipelineId)) return callback(notFound(`pipeline "${call.request.pipelineId}"`));
      const runId = started.length;
      callback(null, { run: runOf({ ...call.request, runId }, false) });
    },
    GetRun(call: ServerUnaryCall<GetRunRequest, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      callback(null, { run: runOf(call.request, true) });
    },
    ListTaskRuns(call: ServerUnaryCall<ListTaskRunsRequest, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      callback(null, { taskRuns: [taskRunOf(runOf(call.request, false))] });
    },
    GetTaskRunLogs(call: ServerWritableStream<GetTaskRunLogsRequest, GetTaskRunLogsResponse>) {
      record(call);
      call.on('cancelled', () => onLogCancel());
      // Tasks `drops-old` and `drops-new`: the first stream breaks (UNAVAILABLE) after "one\ntwo\n", as when
      // the replica serving it shuts down. `-new` resumes at the asked offset; `-old` is a replica older
      // than offsets: it sends neither offset nor attempt and always starts from byte 0.
      if (call.request.taskId.startsWith('drops-')) {
        const old = call.request.taskId === 'drops-old';
        const log = 'one\ntwo\nthree\n';
        const calls = (logDrops.get(call.request.taskId) ?? 0) + 1;
        logDrops.set(call.request.taskId, calls);
        let at = old ? 0 : Number(call.request.offset);
        for (const line of log.slice(at).match(/[^\n]*\n/g) ?? []) {
          if (calls === 1 && at >= 8) {
            call.emit('error', { code: status.UNAVAILABLE, details: 'this API replica is shutting down' });
            return;
          }
          call.write(old ? { chunk: Buffer.from(line), stream: LogStream.LOG_STREAM_STDOUT } as unknown as GetTaskRunLogsResponse
            : { chunk: Buffer.from(line), stream: LogStream.LOG_STREAM_STDOUT, offset: at, attempt: 1 });
          at += line.length;
        }
        return call.end();
      }
      let offset = 0;
      const send = (text: string, stream: LogStream) => {
        call.write({ chunk: Buffer.from(text), stream, offset, attempt: call.request.attempt || 1 });
        offset += Buffer.byteLength(text);
      };
      if (call.request.attempt) send(`attempt ${call.request.attempt}\n`, LogStream.LOG_STREAM_STDOUT);
      send('hello world\n', LogStream.LOG_STREAM_STDOUT);
      send('warning: shy\n', LogStream.LOG_STREAM_STDERR);
      if (!call.request.follow) return call.end();
      // Following: keep sending until the client goes away.
      const timer = setInterval(() => {
        if (call.cancelled) return clearInterval(timer);
        send('tick\n', LogStream.LOG_STREAM_STDOUT);
      }, 10);
      call.on('cancelled', () => clearInterval(timer));
    },

    // ---- tokens ----
    BootstrapToken(call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      if ([...tokens.values()].some(({ token }) => token.kind === TokenKind.TOKEN_KIND_MANAGEMENT)) {
        return callback({ code: status.FAILED_PRECONDITION, details: 'a token was already bootstrapped: ask its holder for a token' });
      }
      callback(null, issue({ kind: TokenKind.TOKEN_KIND_MANAGEMENT, namespaces: [], metadata: { bootstrap: 'true' }, expiresInSeconds: 0 }));
    },
    CreateToken(call: ServerUnaryCall<CreateTokenRequest, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      createdTokens.push(call.request);
      const caller = callerToken(call);
      if (!caller) return callback(unauthenticated());
      if (caller.kind !== TokenKind.TOKEN_KIND_MANAGEMENT) {
        return callback({ code: status.PERMISSION_DENIED, details: 'creating tokens needs a management token' });
      }
      callback(null, issue(call.request));
    },
    ListTokens(call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      callback(null, { tokens: [...tokens.values()].map(({ token }) => token) });
    },
    GetToken(call: ServerUnaryCall<{ id: string }, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      const found = tokens.get(call.request.id);
      if (!found) return callback(notFound(`token "${call.request.id}"`));
      callback(null, { token: found.token });
    },
    WhoAmI(call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      const caller = callerToken(call);
      if (!caller) return callback(unauthenticated());
      callback(null, { token: caller });
    },
    DeleteToken(call: ServerUnaryCall<{ id: string }, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      if (!tokens.delete(call.request.id)) return callback(notFound(`token "${call.request.id}"`));
      callback(null, {});
    },
    EnableToken(call: ServerUnaryCall<{ id: string }, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      const found = tokens.get(call.request.id);
      if (!found) return callback(notFound(`token "${call.request.id}"`));
      found.token.disabled = false;
      callback(null, {});
    },
    DisableToken(call: ServerUnaryCall<{ id: string }, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      const found = tokens.get(call.request.id);
      if (!found) return callback(notFound(`token "${call.request.id}"`));
      found.token.disabled = true;
      callback(null, {});
    },

    // ---- namespaces ----
    CreateNamespace(call: ServerUnaryCall<CreateNamespaceRequest, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      createdNamespaces.push(call.request);
      const { id, name, description } = call.request;
      if (namespaces.has(id)) return callback({ code: status.ALREADY_EXISTS, details: `namespace "${id}" already exists` });
      const namespace: Namespace = { id, name: name || id, description, created: STORED };
      namespaces.set(id, namespace);
      callback(null, { namespace });
    },
    GetNamespace(call: ServerUnaryCall<{ id: string }, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      const namespace = namespaces.get(call.request.id);
      if (!namespace) return callback(notFound(`namespace "${call.request.id}"`));
      callback(null, { namespace });
    },
    ListNamespaces(call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      callback(null, { namespaces: [...namespaces.values()].sort((a, b) => a.id.localeCompare(b.id)) });
    },
    DeleteNamespace(call: ServerUnaryCall<DeleteNamespaceRequest, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      deletedNamespaces.push(call.request);
      const { id, force } = call.request;
      if (!namespaces.has(id)) return callback(notFound(`namespace "${id}"`));
      if (id === 'default' && !force) {
        return callback({ code: status.FAILED_PRECONDITION, details: 'namespace "default" holds 2 pipelines: delete them first, or pass --force' });
      }
      namespaces.delete(id);
      callback(null, {});
    },

    // ---- objects ----
    PutPipelineObject(call: ServerReadableStream<PutPart, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      receiveObject(call, (header) => pipelineObjectKey(header as PutPipelineObjectHeader), callback, true);
    },
    PutRunObject(call: ServerReadableStream<PutPart, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      receiveObject(call, (header) => runObjectKey(header as PutRunObjectHeader), callback, false);
    },
    GetPipelineObject(call: ServerWritableStream<PutPipelineObjectHeader, unknown>) {
      record(call);
      void sendObject(call, pipelineObjectKey(call.request));
    },
    GetRunObject(call: ServerWritableStream<PutRunObjectHeader, unknown>) {
      record(call);
      void sendObject(call, runObjectKey(call.request));
    },
    ListPipelineObjects(call: ServerUnaryCall<{ namespaceId: string; pipelineId: string }, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      callback(null, { objects: listObjects(`${call.request.namespaceId}/${call.request.pipelineId}/`) });
    },
    ListRunObjects(call: ServerUnaryCall<{ namespaceId: string; pipelineId: string; runId: number }, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      const { namespaceId, pipelineId, runId } = call.request;
      callback(null, { objects: listObjects(`${namespaceId}/${pipelineId}/${runId}/`) });
    },
    DeletePipelineObject(call: ServerUnaryCall<PutPipelineObjectHeader, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      if (!objects.delete(pipelineObjectKey(call.request))) return callback(notFound(`object "${call.request.key}"`));
      callback(null, {});
    },
    DeleteRunObject(call: ServerUnaryCall<PutRunObjectHeader, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      if (!objects.delete(runObjectKey(call.request))) return callback(notFound(`object "${call.request.key}"`));
      callback(null, {});
    },

    // ---- secrets ----
    PutPipelineSecret(call: ServerUnaryCall<PutPipelineSecretRequest, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      pipelineSecretPuts.push(call.request);
      const { namespaceId, pipelineId, key, value } = call.request;
      const id = `${namespaceId}/${pipelineId}/${key}`;
      const secret: Secret = { key, value, namespaces: [], created: pipelineSecrets.get(id)?.created ?? STORED, updated: STORED };
      pipelineSecrets.set(id, secret);
      callback(null, { secret: { ...secret, value: '' } });
    },
    GetPipelineSecret(
      call: ServerUnaryCall<{ namespaceId: string; pipelineId: string; key: string; includeValue: boolean }, unknown>,
      callback: sendUnaryData<unknown>,
    ) {
      record(call);
      const { namespaceId, pipelineId, key, includeValue } = call.request;
      const secret = pipelineSecrets.get(`${namespaceId}/${pipelineId}/${key}`);
      if (!secret) return callback(notFound(`secret "${key}" of pipeline "${pipelineId}"`));
      callback(null, { secret: includeValue ? secret : { ...secret, value: '' } });
    },
    ListPipelineSecrets(call: ServerUnaryCall<{ namespaceId: string; pipelineId: string }, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      const prefix = `${call.request.namespaceId}/${call.request.pipelineId}/`;
      const secrets = [...pipelineSecrets].filter(([id]) => id.startsWith(prefix)).map(([, s]) => ({ ...s, value: '' }));
      callback(null, { secrets });
    },
    DeletePipelineSecret(call: ServerUnaryCall<{ namespaceId: string; pipelineId: string; key: string }, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      const { namespaceId, pipelineId, key } = call.request;
      if (!pipelineSecrets.delete(`${namespaceId}/${pipelineId}/${key}`)) return callback(notFound(`secret "${key}"`));
      callback(null, {});
    },
    PutGlobalSecret(call: ServerUnaryCall<PutGlobalSecretRequest, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      globalSecretPuts.push(call.request);
      const { key, value, namespaces: allowed } = call.request;
      if (allowed.length === 0) return callback({ code: status.INVALID_ARGUMENT, details: 'namespaces: at least one' });
      const secret: Secret = { key, value, namespaces: allowed, created: globalSecrets.get(key)?.created ?? STORED, updated: STORED };
      globalSecrets.set(key, secret);
      callback(null, { secret: { ...secret, value: '' } });
    },
    GetGlobalSecret(call: ServerUnaryCall<{ key: string; includeValue: boolean }, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      const secret = globalSecrets.get(call.request.key);
      if (!secret) return callback(notFound(`global secret "${call.request.key}"`));
      callback(null, { secret: call.request.includeValue ? secret : { ...secret, value: '' } });
    },
    ListGlobalSecrets(call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      callback(null, { secrets: [...globalSecrets.values()].map((s) => ({ ...s, value: '' })) });
    },
    DeleteGlobalSecret(call: ServerUnaryCall<{ key: string }, unknown>, callback: sendUnaryData<unknown>) {
      record(call);
      if (!globalSecrets.delete(call.request.key)) return callback(notFound(`global secret "${call.request.key}"`));
      callback(null, {});
    },

    // ---- events ----
    ListEvents(call: ServerWritableStream<ListEventsRequest, unknown>) {
      record(call);
      eventRequests.push(call.request);
      const { afterId, follow, namespaceId } = call.request;
      for (const event of STUB_EVENTS) {
        if (event.id > afterId && (!namespaceId || event.namespaceId === namespaceId)) call.write({ event });
      }
      if (!follow) return call.end();
      let next = STUB_EVENTS.length + 1;
      const timer = setInterval(() => {
        if (call.cancelled) return clearInterval(timer);
        const event: Event = { id: next++, kind: 'heartbeat', namespaceId: namespaceId || 'default', pipelineId: '', runId: 0, taskId: '', details: '{}', emitted: STORED };
        call.write({ event });
      }, 10);
      call.on('cancelled', () => {
        clearInterval(timer);
        onEventCancel();
      });
    },
  };

  const definition = loadGoferPackageDefinition()[`${GOFER_PACKAGE}.${GOFER_SERVICE}`] as ServiceDefinition;
  const server = new Server();
  server.addService(definition, handlers);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  return {
    address: `127.0.0.1:${port}`,
    authorizations,
    applied,
    started,
    logStreamCancelled,
    eventStreamCancelled,
    createdTokens,
    createdNamespaces,
    deletedNamespaces,
    pipelineSecretPuts,
    globalSecretPuts,
    eventRequests,
    uploads,
    objects,
    close: async () => server.forceShutdown(),
  };
}
