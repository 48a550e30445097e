import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { Authorize } from '@gofer/auth';
import { PipelineService } from '@gofer/catalog';
import { UseCases } from '@gofer/engine';
import { invalidArgument } from '@gofer/errors';
import type { ConfigTextFormat } from '@gofer/pipeline';
import { ConfigFormat } from '@gofer/proto';
import type * as pb from '@gofer/proto';
import { toPipeline, toPipelineConfig } from './proto-mapping.js';
import { MAX_PAGE, page, pipelineRef, RequestCheck } from './request.js';

/** Largest config document accepted (the gRPC server itself refuses messages over 4 MiB). */
const MAX_CONFIG_BYTES = 1024 * 1024;

const FORMATS: Record<string, ConfigTextFormat> = {
  [ConfigFormat.CONFIG_FORMAT_UNSPECIFIED]: 'auto',
  [ConfigFormat.CONFIG_FORMAT_YAML]: 'yaml',
  [ConfigFormat.CONFIG_FORMAT_JSON]: 'json',
};

/** How to read a config; a value this server does not know (a newer client's) arrives as its number. */
function configFormatOf(format: pb.ApplyPipelineConfigRequest['format'] | number | undefined): ConfigTextFormat {
  if (format === undefined || format === 0) return 'auto';
  const known = Object.hasOwn(FORMATS, format) ? FORMATS[format] : undefined;
  if (known === undefined) {
    throw invalidArgument(`format: unknown config format ${typeof format === 'number' ? format : JSON.stringify(format)}`);
  }
  return known;
}

@Controller()
export class PipelinesGrpcController {
  constructor(
    private readonly pipelines: PipelineService,
    private readonly useCases: UseCases,
  ) {}

  @Authorize('namespace')
  @GrpcMethod('Gofer', 'ApplyPipelineConfig')
  async applyPipelineConfig(request: pb.ApplyPipelineConfigRequest): Promise<pb.ApplyPipelineConfigResponse> {
    const check = new RequestCheck();
    const namespace = check.namespace(request.namespaceId);
    check.done();
    const format = configFormatOf(request.format);
    const config = request.config ?? new Uint8Array();
    if (config.length === 0) throw invalidArgument('config: required (the pipeline config document, YAML or JSON)');
    if (config.length > MAX_CONFIG_BYTES) {
      throw invalidArgument(`config: ${config.length} bytes is larger than the ${MAX_CONFIG_BYTES}-byte limit`);
    }
    // A raised (or removed) parallelism limit starts waiting runs now, not at the next run's end.
    const { pipeline, version } = await this.useCases.applyPipeline(namespace, config, format);
    return { pipeline: toPipeline(pipeline), version };
  }

  @Authorize('namespace')
  @GrpcMethod('Gofer', 'GetPipeline')
  async getPipeline(request: pb.GetPipelineRequest): Promise<pb.GetPipelineResponse> {
    const { namespaceId, pipelineId } = pipelineRef(request, request.id, 'id');
    return { pipeline: toPipeline(await this.pipelines.get(namespaceId, pipelineId)) };
  }

  @Authorize('namespace')
  @GrpcMethod('Gofer', 'ListPipelines')
  async listPipelines(request: pb.ListPipelinesRequest): Promise<pb.ListPipelinesResponse> {
    const check = new RequestCheck();
    const namespace = check.namespace(request.namespaceId);
    const { limit, offset } = check.page(request, MAX_PAGE);
    check.done();
    const all = await this.pipelines.list(namespace);
    return { pipelines: all.slice(offset, offset + limit).map(toPipeline) };
  }

  @Authorize('namespace')
  @GrpcMethod('Gofer', 'EnablePipeline')
  async enablePipeline(request: pb.EnablePipelineRequest): Promise<pb.EnablePipelineResponse> {
    return { pipeline: toPipeline(await this.setState(request, 'enabled')) };
  }

  @Authorize('namespace')
  @GrpcMethod('Gofer', 'DisablePipeline')
  async disablePipeline(request: pb.DisablePipelineRequest): Promise<pb.DisablePipelineResponse> {
    return { pipeline: toPipeline(await this.setState(request, 'disabled')) };
  }

  private async setState(request: { namespaceId: string; id: string }, state: 'enabled' | 'disabled') {
    const { namespaceId, pipelineId } = pipelineRef(request, request.id, 'id');
    return this.useCases.setPipelineState(namespaceId, pipelineId, state);
  }

  @Authorize('namespace')
  @GrpcMethod('Gofer', 'DeletePipeline')
  async deletePipeline(request: pb.DeletePipelineRequest): Promise<pb.DeletePipelineResponse> {
    const { namespaceId, pipelineId } = pipelineRef(request, request.id, 'id');
    await this.useCases.deletePipeline(namespaceId, pipelineId);
    return {};
  }

  @Authorize('namespace')
  @GrpcMethod('Gofer', 'ListPipelineConfigs')
  async listPipelineConfigs(request: pb.ListPipelineConfigsRequest): Promise<pb.ListPipelineConfigsResponse> {
    const { limit, offset } = page(request, MAX_PAGE);
    const { namespaceId, pipelineId } = pipelineRef(request, request.pipelineId);
    const versions = await this.pipelines.versions(namespaceId, pipelineId);
    return { configs: versions.slice(offset, offset + limit).map(toPipelineConfig) };
  }
}
