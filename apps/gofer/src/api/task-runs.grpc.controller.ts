import { setTimeout as sleep } from 'node:timers/promises';
import { Controller, Inject } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import type { TaskRunEntity } from '@gofer/dal';
import { Authorize, TokenService } from '@gofer/auth';
import { LOGGER } from '@gofer/config';
import { PipelineConfigsRepository, RunRepository } from '@gofer/dal';
import type { PipelineConfig } from '@gofer/pipeline';
import { RunEngine } from '@gofer/engine';
import { invalidArgument, notFound } from '@gofer/errors';
import { fromOffset, lastBytes, TASK_LOGS, upTo, type PositionedChunk } from '@gofer/logs';
import type { Logger } from 'pino';
import type { LogChunk, LogKey, PlacedChunk, TaskLogs } from '@gofer/logs';
import { LogStream, type GetTaskRunLogsResponse } from '@gofer/proto';
import type * as pb from '@gofer/proto';
import type { Metadata, ServerWritableStream } from '@grpc/grpc-js';
import type { Observable } from 'rxjs';
import { FollowSlots } from './follow-slots.js';
import { Shutdown } from './shutdown.js';
import { holdingSlot, pacedStream, whileAuthorized } from './grpc-stream.js';
import { taskRunWaitingReason, toPastTaskRun, toTaskRun } from './proto-mapping.js';
import { principalOf } from './authorization.guard.js';
import { runRef, taskRef } from './request.js';

const POLL_MS = 500;
const STREAMS: Record<LogChunk['stream'], LogStream> = {
  stdout: LogStream.LOG_STREAM_STDOUT,
  stderr: LogStream.LOG_STREAM_STDERR,
  system: LogStream.LOG_STREAM_UNSPECIFIED,
};

@Controller()
export class TaskRunsGrpcController {
  constructor(
    private readonly engine: RunEngine,
    private readonly runs: RunRepository,
    private readonly configs: PipelineConfigsRepository,
    @Inject(TASK_LOGS) private readonly logs: TaskLogs,
    private readonly tokens: TokenService,
    // Live follows hold a slot: each holds a Redis connection while it blocks.
    private readonly slots: FollowSlots,
    private readonly shutdown: Shutdown,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @Authorize('namespace')
  @GrpcMethod('Gofer', 'GetTaskRun')
  async getTaskRun(request: pb.GetTaskRunRequest): Promise<pb.GetTaskRunResponse> {
    const row = await this.runs.getTaskRun(taskRef(request));
    if (!request.attempt || request.attempt === row.attempt) {
      const context = row.state === 'processing' ? await this.processingContext(runRef(request), [row]) : null;
      const waiting = taskRunWaitingReason(row, Date.now(), { ...context, dependsOn: context?.dependsOn(row.taskId) });
      return { taskRun: toTaskRun(row, waiting) };
    }
    const past = row.pastAttempts.find((p) => p.attempt === request.attempt);
    if (!past) throw notFound(`task run "${row.taskId}" has no attempt ${request.attempt} (latest is ${row.attempt})`);
    return { taskRun: toPastTaskRun(row, past) };
  }

  @Authorize('namespace')
  @GrpcMethod('Gofer', 'ListTaskRuns')
  async listTaskRuns(request: pb.ListTaskRunsRequest): Promise<pb.ListTaskRunsResponse> {
    const key = runRef(request);
    const rows = await this.runs.listTaskRuns(key);
    const processing = rows.filter((row) => row.state === 'processing');
    const context = processing.length > 0 ? await this.processingContext(key, processing, rows) : null;
    const now = Date.now();
    return {
      taskRuns: rows.map((row) => toTaskRun(row, taskRunWaitingReason(row, now, { ...context, dependsOn: context?.dependsOn(row.taskId) }))),
    };
  }

  /**
   * What explains why `processing` task runs wait: their run's state and each task's parents in the
   * run's config version (two queries, made only when some task run is processing). `siblings` are
   * the run's task runs when already loaded; loaded here otherwise.
   */
  private async processingContext(
    key: ReturnType<typeof runRef>,
    processing: readonly TaskRunEntity[],
    siblings?: readonly TaskRunEntity[],
  ): Promise<{ runState?: string; siblings: readonly TaskRunEntity[]; dependsOn: (taskId: string) => string[] | undefined }> {
    const run = await this.runs.find(key);
    const config = run ? await this.configs.find(key.namespaceId, key.pipelineId, run.configVersion) : null;
    const tasks = new Map(((config?.config as PipelineConfig | undefined)?.tasks ?? []).map((t) => [t.id, Object.keys(t.dependsOn)]));
    const loaded = siblings ?? (processing.some((row) => (tasks.get(row.taskId) ?? []).length > 0) ? await this.runs.listTaskRuns(key) : []);
    return { runState: run?.state, siblings: loaded, dependsOn: (taskId) => tasks.get(taskId) };
  }

  @Authorize('namespace')
  @GrpcMethod('Gofer', 'CancelTaskRun')
  async cancelTaskRun(request: pb.CancelTaskRunRequest): Promise<pb.CancelTaskRunResponse> {
    await this.engine.cancelTaskRun(taskRef(request));
    return {};
  }

  /**
   * Archived logs for finished attempts; the live Redis stream (optionally followed) otherwise. A
   * follow holds a follow slot, and any stream ends once its token is deleted, disabled or expired.
   */
  @Authorize('namespace')
  @GrpcMethod('Gofer', 'GetTaskRunLogs')
  async getTaskRunLogs(
    request: pb.GetTaskRunLogsRequest,
    metadata: Metadata,
    call: ServerWritableStream<unknown, unknown>,
  ): Promise<Observable<GetTaskRunLogsResponse>> {
    const { tokenId } = principalOf(metadata);
    const key = taskRef(request);
    const row = await this.runs.getTaskRun(key);
    const attempt = request.attempt || row.attempt;
    if (attempt < 1 || attempt > row.attempt) {
      throw notFound(`task run "${row.taskId}" has no attempt ${attempt} (latest is ${row.attempt})`);
    }
    const logKey: LogKey = { ...key, runId: row.reusedFromRun ?? key.runId, attempt };
    const follow = request.follow ?? false;
    const { offset, tail, limit } = logRange(request);
    const message = (chunk: PositionedChunk) => ({ chunk: chunk.data, stream: STREAMS[chunk.stream], offset: chunk.offset, attempt });
    const read = async function* (this: TaskRunsGrpcController, signal: AbortSignal) {
      let from = offset;
      if (tail > 0) {
        // The log as it stands is read to its end for its last bytes; a follow goes on from that end.
        const last = await lastBytes(fromOffset(this.read(row, logKey, false, signal), 0), tail);
        for (const chunk of last.chunks) yield message(chunk);
        // A finished attempt writes nothing more: its log is not read a second time to follow it.
        if (!follow || attempt < row.attempt || row.state === 'complete' || row.reusedFromRun !== null) return;
        from = last.end;
      }
      const chunks = fromOffset(this.read(row, logKey, follow, signal), from);
      for await (const chunk of limit > 0 ? upTo(chunks, offset + limit) : chunks) yield message(chunk);
    }.bind(this);
    const stream = whileAuthorized(pacedStream(call, read), this.tokens, metadata);
    return follow ? holdingSlot(() => this.slots.take('logs', tokenId), stream, this.shutdown.signal) : stream;
  }

  // The archive is framed without an index: a tail or a stretch is found by reading from the start.
  private async *read(row: TaskRunEntity, key: LogKey, follow: boolean, signal: AbortSignal): AsyncGenerator<PlacedChunk> {
    const finished = row.state === 'complete' || key.attempt < row.attempt || row.reusedFromRun !== null;
    if (!finished && follow) {
      // Not started yet: wait for the container before following.
      while (!signal.aborted) {
        const current = await this.runs.getTaskRun(key);
        if (current.attempt !== key.attempt || current.state === 'running' || current.state === 'complete') break;
        await sleep(POLL_MS, undefined, { signal }).catch(() => undefined); // aborted: the loop ends
      }
    }
    const complete = finished || (await this.runs.getTaskRun(key)).state === 'complete';
    // While the object store is unreachable, the live copy (kept a day when archiving failed) still serves.
    const archived = complete
      ? await this.logs.openArchived(key, signal).catch((error: unknown) => {
          this.logger.warn({ err: error, ...key }, 'reading an archived log failed; serving the live copy');
          return undefined;
        })
      : undefined;
    if (archived) {
      yield* archived;
      return;
    }
    const stillRunning = async () => {
      const current = await this.runs.getTaskRun(key);
      return current.attempt === key.attempt && current.state !== 'complete';
    };
    yield* this.logs.readLiveChunks(key, { follow, signal, stillRunning });
  }
}

/** The most a `tail` may ask for: it is held in the API process's memory while the log is read. */
const MAX_TAIL_BYTES = 16 * 1024 * 1024;

/** GetTaskRunLogs' `offset`, `tail` and `limit`, checked together (every problem reported at once). */
function logRange(request: pb.GetTaskRunLogsRequest): { offset: number; tail: number; limit: number } {
  const offset = request.offset ?? 0;
  const tail = request.tail ?? 0;
  const limit = request.limit ?? 0;
  const problems: string[] = [];
  if (!Number.isSafeInteger(offset) || offset < 0) problems.push(`offset must be a byte position of 0 or more, got ${offset}`);
  if (!Number.isSafeInteger(tail) || tail < 0 || tail > MAX_TAIL_BYTES) problems.push(`tail must be a byte count from 0 to ${MAX_TAIL_BYTES}, got ${tail}`);
  if (!Number.isSafeInteger(limit) || limit < 0) problems.push(`limit must be a byte count of 0 or more, got ${limit}`);
  if (tail > 0 && offset > 0) problems.push('tail and offset contradict each other: a read starts at the end minus tail, or at offset');
  if (tail > 0 && limit > 0) problems.push('tail and limit contradict each other: the last bytes of a log, or a stretch of it from offset');
  if (limit > 0 && request.follow) problems.push('limit and follow contradict each other: a follow ends with the task, not after a byte count');
  if (problems.length > 0) throw invalidArgument(problems.join('\n'));
  return { offset, tail, limit };
}
