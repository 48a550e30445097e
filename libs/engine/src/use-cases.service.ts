import { Injectable } from '@nestjs/common';
import { NamespaceService, PipelineService } from '@gofer/catalog';
import type { PipelineEntity, RunEntity } from '@gofer/dal';
import { ObjectService } from '@gofer/object-store';
import type { ConfigTextFormat } from '@gofer/pipeline';
import { RunEngine, type StartRunOptions } from './run-engine.service.js';

/**
 * What a caller can ask of Gofer that spans several owners, each as one method: the gRPC API, a
 * trigger and an HTTP API call these, so each does the same thing whatever the transport.
 */
@Injectable()
export class UseCases {
  constructor(
    private readonly engine: RunEngine,
    private readonly pipelines: PipelineService,
    private readonly namespaces: NamespaceService,
    private readonly objects: ObjectService,
  ) {}

  /**
   * Starts a run (or, for an idempotency key seen before, returns the run it started). The run that
   * this one pushes past the pipeline's last N runs has its run objects expired.
   */
  async startRun(namespaceId: string, pipelineId: string, variables: Record<string, string>, options: StartRunOptions = {}): Promise<RunEntity> {
    const run = await this.engine.startRun(namespaceId, pipelineId, variables, options);
    await this.objects.expireRunObjects(run.namespaceId, run.pipelineId, run.id);
    return run;
  }

  /** Starts a run that re-uses the successful results of complete run `runId` (RetryRun). */
  async retryRun(namespaceId: string, pipelineId: string, runId: number, startedBy?: string): Promise<RunEntity> {
    return this.startRun(namespaceId, pipelineId, {}, { retryOf: runId, startedBy });
  }

  /**
   * Stores a config as the pipeline's next version, then admits waiting runs at once if it raised (or
   * removed) the parallelism limit; if admitting fails, the reconciler admits them on its next pass.
   */
  async applyPipeline(namespaceId: string, raw: Uint8Array, format: ConfigTextFormat): Promise<{ pipeline: PipelineEntity; version: number }> {
    const applied = await this.pipelines.apply(namespaceId, raw, format);
    await this.engine.admitPipeline(namespaceId, applied.pipeline.id).catch(() => undefined);
    return applied;
  }

  /** Deletes a pipeline with its runs, then its objects and archived logs. */
  async deletePipeline(namespaceId: string, pipelineId: string): Promise<void> {
    await this.pipelines.delete(namespaceId, pipelineId);
    await this.objects.removePipelineContent(namespaceId, pipelineId);
  }

  /** Deletes a namespace (with its pipelines when `force`), then their objects and archived logs. */
  async deleteNamespace(namespaceId: string, force: boolean): Promise<void> {
    const pipelines = await this.namespaces.delete(namespaceId, force);
    for (const pipelineId of pipelines) await this.objects.removePipelineContent(namespaceId, pipelineId);
  }
}
