import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { RunEngine, RunRepository } from '@gofer/engine';
import type * as pb from '@gofer/proto';
import { toRun } from './proto-mapping.js';
import { RequestCheck } from './request.js';

@Controller()
export class RunsGrpcController {
  constructor(
    private readonly engine: RunEngine,
    private readonly runs: RunRepository,
  ) {}

  private runKey(request: { namespaceId: string; pipelineId: string; runId: number }) {
    const check = new RequestCheck();
    const key = {
      namespaceId: check.namespace(request.namespaceId),
      pipelineId: check.id('pipeline_id', request.pipelineId),
      runId: check.runId('run_id', request.runId),
    };
    check.done();
    return key;
  }

  @GrpcMethod('Gofer', 'StartRun')
  async startRun(request: pb.StartRunRequest): Promise<pb.StartRunResponse> {
    const check = new RequestCheck();
    const namespace = check.namespace(request.namespaceId);
    const pipeline = check.id('pipeline_id', request.pipelineId);
    check.done();
    return { run: toRun(await this.engine.startRun(namespace, pipeline, request.variables ?? {})) };
  }

  @GrpcMethod('Gofer', 'GetRun')
  async getRun(request: pb.GetRunRequest): Promise<pb.GetRunResponse> {
    return { run: toRun(await this.runs.getRun(this.runKey(request))) };
  }

  @GrpcMethod('Gofer', 'ListRuns')
  async listRuns(request: pb.ListRunsRequest): Promise<pb.ListRunsResponse> {
    const check = new RequestCheck();
    const namespace = check.namespace(request.namespaceId);
    const pipeline = check.id('pipeline_id', request.pipelineId);
    check.done();
    const runs = await this.runs.listRuns(namespace, pipeline, request.limit, request.offset);
    return { runs: runs.map(toRun) };
  }

  @GrpcMethod('Gofer', 'CancelRun')
  async cancelRun(request: pb.CancelRunRequest): Promise<pb.CancelRunResponse> {
    await this.engine.cancelRun(this.runKey(request));
    return {};
  }

  @GrpcMethod('Gofer', 'CancelAllRuns')
  async cancelAllRuns(request: pb.CancelAllRunsRequest): Promise<pb.CancelAllRunsResponse> {
    const check = new RequestCheck();
    const namespace = check.namespace(request.namespaceId);
    const pipeline = check.id('pipeline_id', request.pipelineId);
    check.done();
    return { runIds: await this.engine.cancelAllRuns(namespace, pipeline) };
  }

  @GrpcMethod('Gofer', 'RetryRun')
  async retryRun(request: pb.RetryRunRequest): Promise<pb.RetryRunResponse> {
    const key = this.runKey(request);
    return { run: toRun(await this.engine.startRun(key.namespaceId, key.pipelineId, {}, { retryOf: key.runId })) };
  }
}
