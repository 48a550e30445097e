// A small real gRPC server speaking gofer.v1.Gofer, for testing the client and the CLI over a real
// socket before (and independently of) the real API. It serves canned pipelines and runs, and records
// what it received so tests can check requests and metadata.
import { createServer } from 'node:net';
import {
  Server,
  ServerCredentials,
  status,
  type sendUnaryData,
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
  PipelineState,
  RunState,
  RunStatus,
  StatusReasonKind,
  TaskRunState,
  TaskRunStatus,
  type ApplyPipelineConfigRequest,
  type GetPipelineRequest,
  type GetRunRequest,
  type GetTaskRunLogsRequest,
  type GetTaskRunLogsResponse,
  type ListTaskRunsRequest,
  type Pipeline,
  type Run,
  type StartRunRequest,
  type TaskRun,
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
  close(): Promise<void>;
}

/** The pipelines the stub knows: `hello` runs succeed, `broken` runs fail. */
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

export async function startStubGofer(): Promise<StubGofer> {
  const authorizations: Array<string | undefined> = [];
  const applied: ApplyPipelineConfigRequest[] = [];
  const started: StartRunRequest[] = [];
  const polls = new Map<string, number>();
  let onLogCancel!: () => void;
  const logStreamCancelled = new Promise<void>((resolve) => (onLogCancel = resolve));

  const record = (call: { metadata: { get(key: string): unknown[] } }) =>
    authorizations.push(call.metadata.get('authorization')[0] as string | undefined);

  const known = (id: string) => id === 'hello' || id === 'broken';
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
    };
  };

  const taskRunOf = (run: Run): TaskRun => {
    const complete = run.state === RunState.RUN_STATE_COMPLETE;
    const ok = run.status === RunStatus.RUN_STATUS_SUCCESSFUL;
    return {
      namespaceId: run.namespaceId,
      pipelineId: run.pipelineId,
      runId: run.id,
      taskId: 'greet',
      attempt: 1,
      state: complete ? TaskRunState.TASK_RUN_STATE_COMPLETE : TaskRunState.TASK_RUN_STATE_RUNNING,
      status: !complete ? TaskRunStatus.TASK_RUN_STATUS_UNSPECIFIED : ok ? TaskRunStatus.TASK_RUN_STATUS_SUCCESSFUL : TaskRunStatus.TASK_RUN_STATUS_FAILED,
      statusReason:
        complete && !ok ? { reason: StatusReasonKind.STATUS_REASON_KIND_ABNORMAL_EXIT, description: 'exited with code 3' } : null,
      // Absent until the container exits, as the real API does.
      exitCode: complete ? (ok ? 0 : 3) : undefined,
      image: 'busybox:latest',
      schedulerId: 'c0ffee',
      workerId: 'worker-1',
      started: CREATED,
      ended: complete ? CREATED + 2_000 : 0,
    };
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
      call.write({ chunk: Buffer.from('hello world\n'), stream: LogStream.LOG_STREAM_STDOUT });
      call.write({ chunk: Buffer.from('warning: shy\n'), stream: LogStream.LOG_STREAM_STDERR });
      if (!call.request.follow) return call.end();
      // Following: keep sending until the client goes away.
      const timer = setInterval(() => {
        if (call.cancelled) return clearInterval(timer);
        call.write({ chunk: Buffer.from('tick\n'), stream: LogStream.LOG_STREAM_STDOUT });
      }, 10);
      call.on('cancelled', () => clearInterval(timer));
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
    close: async () => server.forceShutdown(),
  };
}
