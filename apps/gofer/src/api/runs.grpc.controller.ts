import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { ObjectService, RunEngine, RunRepository } from '@gofer/engine';
import type { RunEntity } from '@gofer/dal';
import type * as pb from '@gofer/proto';
import { toRun } from './proto-mapping.js';
import { pipelineRef, RequestCheck, runRef } from './request.js';

@Controller()
export class RunsGrpcController {
  constructor(
    private readonly engine: RunEngine,
    private readonly runs: RunRepository,
    private readonly objects: ObjectService,
  ) {}

  /** A new run pushes the oldest run past the pipeline's last N: its run objects expire. */
  private async started(run: RunEntity): Promise<pb.StartRunResponse> {
    await this.objects.expireRunObjects(run.namespaceId, run.pipelineId, run.id);
    return { run: toRun(run) };
  }

  @GrpcMethod('Gofer', 'StartRun')
  async startRun(request: pb.StartRunRequest): Promise<pb.StartRunResponse> {
    const { namespaceId, pipelineId } = pipelineRef(request, request.pipelineId);
    return this.started(await this.engine.startRun(namespaceId, pipelineId, request.variables ?? {}));
  }

  @GrpcMethod('Gofer', 'GetRun')
  async getRun(request: pb.GetRunRequest): Promise<pb.GetRunResponse> {
    return { run: toRun(await this.runs.getRun(runRef(request))) };
  }

  @GrpcMethod('Gofer', 'ListRuns')
  async listRuns(request: pb.ListRunsRequest): Promise<pb.ListRunsResponse> {
    const check = new RequestCheck();
    const ref = { namespaceId: check.namespace(request.namespaceId), pipelineId: check.id('pipeline_id', request.pipelineId) };
    const { limit, offset } = check.page(request, 50);
    check.done();
    const runs = await this.runs.listRuns(ref.namespaceId, ref.pipelineId, limit, offset);
    return { runs: runs.map(toRun) };
  }

  @GrpcMethod('Gofer', 'CancelRun')
  async cancelRun(request: pb.CancelRunRequest): Promise<pb.CancelRunResponse> {
    await this.engine.cancelRun(runRef(request));
    return {};
  }

  @GrpcMethod('Gofer', 'CancelAllRuns')
  async cancelAllRuns(request: pb.CancelAllRunsRequest): Promise<pb.CancelAllRunsResponse> {
    const { namespaceId, pipelineId } = pipelineRef(request, request.pipelineId);
    return { runIds: await this.engine.cancelAllRuns(namespaceId, pipelineId) };
  }

  @GrpcMethod('Gofer', 'RetryRun')
  async retryRun(request: pb.RetryRunRequest): Promise<pb.RetryRunResponse> {
    const key = runRef(request);
    return this.started(await this.engine.startRun(key.namespaceId, key.pipelineId, {}, { retryOf: key.runId }));
  }
}
