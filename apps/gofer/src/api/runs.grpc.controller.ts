import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { Metadata } from '@grpc/grpc-js';
import { Authorize, type Principal } from '@gofer/auth';
import { RunNotificationsRepository, RunRepository, type RunState, type RunStatus } from '@gofer/dal';
import { RunEngine, UseCases } from '@gofer/engine';
import { PIPELINE_ID } from '@gofer/pipeline';
import type * as pb from '@gofer/proto';
import { principalOf } from './authorization.guard.js';
import { toRun } from './proto-mapping.js';
import { pipelineRef, RequestCheck, runRef } from './request.js';

/** What ListRuns' `states` and `statuses` filters accept (UNSPECIFIED is not a state a run is in). */
const LISTED_STATES: Readonly<Record<string, RunState>> = { RUN_STATE_PENDING: 'pending', RUN_STATE_RUNNING: 'running', RUN_STATE_COMPLETE: 'complete' };
const LISTED_STATUSES: Readonly<Record<string, RunStatus>> = { RUN_STATUS_SUCCESSFUL: 'successful', RUN_STATUS_FAILED: 'failed', RUN_STATUS_CANCELLED: 'cancelled' };

@Controller()
export class RunsGrpcController {
  constructor(
    private readonly engine: RunEngine,
    private readonly runs: RunRepository,
    private readonly useCases: UseCases,
    private readonly notifications: RunNotificationsRepository,
  ) {}

  @Authorize('namespace')
  @GrpcMethod('Gofer', 'StartRun')
  async startRun(request: pb.StartRunRequest, metadata: Metadata): Promise<pb.StartRunResponse> {
    const { namespaceId, pipelineId } = pipelineRef(request, request.pipelineId);
    const run = await this.useCases.startRun(namespaceId, pipelineId, request.variables ?? {}, {
      idempotencyKey: request.idempotencyKey || undefined,
      startedBy: startedBy(principalOf(metadata)),
    });
    return { run: toRun(run) };
  }

  @Authorize('namespace')
  @GrpcMethod('Gofer', 'GetRun')
  async getRun(request: pb.GetRunRequest): Promise<pb.GetRunResponse> {
    const run = await this.runs.getRun(runRef(request));
    const pending = run.state === 'pending' ? await this.runs.pendingContext(run.namespaceId, run.pipelineId) : null;
    return { run: toRun(run, await this.notifications.ofRuns(run.namespaceId, run.pipelineId, [run.id]), pending) };
  }

  @Authorize('namespace')
  @GrpcMethod('Gofer', 'ListRuns')
  async listRuns(request: pb.ListRunsRequest): Promise<pb.ListRunsResponse> {
    const check = new RequestCheck();
    const ref = { namespaceId: check.namespace(request.namespaceId), pipelineId: check.id(PIPELINE_ID, 'pipeline_id', request.pipelineId) };
    const { limit, offset } = check.page(request, 50);
    const filter = {
      states: check.enumList('states', request.states, LISTED_STATES),
      statuses: check.enumList('statuses', request.statuses, LISTED_STATUSES),
      startedBy: check.text('started_by', request.startedBy, 300),
    };
    check.done();
    const runs = await this.runs.listRuns(ref.namespaceId, ref.pipelineId, limit, offset, filter);
    const notifications = await this.notifications.ofRuns(ref.namespaceId, ref.pipelineId, runs.map((run) => run.id));
    // One query per page, and only when the page has a pending run.
    const pending = runs.some((run) => run.state === 'pending') ? await this.runs.pendingContext(ref.namespaceId, ref.pipelineId) : null;
    return { runs: runs.map((run) => toRun(run, notifications.filter((n) => n.runId === run.id), pending)) };
  }

  @Authorize('namespace')
  @GrpcMethod('Gofer', 'CancelRun')
  async cancelRun(request: pb.CancelRunRequest): Promise<pb.CancelRunResponse> {
    await this.engine.cancelRun(runRef(request));
    return {};
  }

  @Authorize('namespace')
  @GrpcMethod('Gofer', 'CancelAllRuns')
  async cancelAllRuns(request: pb.CancelAllRunsRequest): Promise<pb.CancelAllRunsResponse> {
    const { namespaceId, pipelineId } = pipelineRef(request, request.pipelineId);
    return { runIds: await this.engine.cancelAllRuns(namespaceId, pipelineId) };
  }

  @Authorize('namespace')
  @GrpcMethod('Gofer', 'RetryRun')
  async retryRun(request: pb.RetryRunRequest, metadata: Metadata): Promise<pb.RetryRunResponse> {
    const key = runRef(request);
    return { run: toRun(await this.useCases.retryRun(key.namespaceId, key.pipelineId, key.runId, startedBy(principalOf(metadata)))) };
  }
}

/** How a run records the API caller who started it. */
function startedBy(principal: Principal): string {
  return `token/${principal.tokenId}`;
}
