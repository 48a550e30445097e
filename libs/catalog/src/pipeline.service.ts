import { Inject, Injectable } from '@nestjs/common';
import {
  catchUpRetiredCounters, insertPipelineIfAbsent, NamespaceEntity, PipelineConfigEntity, PipelineEntity, retirePipelineCounters, RunEntity,
  SecretEntity, type PipelineState,
} from '@gofer/dal';
import { formatConfigIssues, type ConfigTextFormat } from '@gofer/pipeline';
import type { Logger } from 'pino';
import { In, type DataSource, type EntityManager } from 'typeorm';
import { ConfigParser } from './config-parser.js';
import { DATA_SOURCE } from '@gofer/dal';
import { LOGGER } from '@gofer/config';
import { failedPrecondition, invalidArgument, notFound } from '@gofer/errors';
import { EventLog } from '@gofer/events';

/** Pipelines and their config versions. */
@Injectable()
export class PipelineService {
  constructor(
    @Inject(DATA_SOURCE) private readonly db: DataSource,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly events: EventLog,
    private readonly parser: ConfigParser,
  ) {}

  /**
   * Validates a config and stores it as the pipeline's next version (creating the pipeline on first
   * apply). `format` `json` holds the document to strict JSON; otherwise it is read as YAML (of which
   * JSON is a subset).
   */
  async apply(namespaceId: string, raw: Uint8Array, format: ConfigTextFormat = 'auto'): Promise<{ pipeline: PipelineEntity; version: number }> {
    const parsed = await this.parser.parse(raw, { format });
    if (!parsed.ok) throw invalidArgument(formatConfigIssues(parsed.errors));
    const config = parsed.config;
    const result = await this.db.transaction(async (m) => {
      if (!(await m.existsBy(NamespaceEntity, { id: namespaceId }))) throw notFound(`namespace "${namespaceId}" not found`);
      // Insert-or-lock, so two concurrent applies of a new pipeline serialise instead of racing. A
      // pipeline created again under a deleted one's id continues its run and version numbers.
      const created = await insertPipelineIfAbsent(m, {
        namespaceId, id: config.id, name: config.name, description: config.description, parallelism: config.parallelism,
      });
      if (created) {
        // The INSERT's snapshot predates a delete it waited for (a delete and a re-create racing): read
        // the retired counters again, now that that delete has committed.
        await catchUpRetiredCounters(m, namespaceId, config.id);
      }
      const pipeline = (await m.findOne(PipelineEntity, { where: { namespaceId, id: config.id }, lock: { mode: 'pessimistic_write' } }))!;
      pipeline.latestVersion += 1;
      pipeline.name = config.name;
      pipeline.description = config.description;
      pipeline.parallelism = config.parallelism;
      pipeline.updated = new Date();
      await m.insert(PipelineConfigEntity, {
        namespaceId, pipelineId: config.id, version: pipeline.latestVersion, config,
        raw: Buffer.from(raw).toString('utf8'), created: new Date(),
      });
      await m.save(pipeline);
      await this.events.append(m, {
        kind: created ? 'pipeline_created' : 'pipeline_config_applied',
        namespaceId, pipelineId: config.id, details: { version: pipeline.latestVersion },
      });
      return { pipeline, version: pipeline.latestVersion };
    });
    this.logger.info({ namespace_id: namespaceId, pipeline_id: config.id, version: result.version }, 'pipeline config applied');
    return result;
  }

  async get(namespaceId: string, id: string): Promise<PipelineEntity> {
    const pipeline = await this.db.manager.findOneBy(PipelineEntity, { namespaceId, id });
    if (!pipeline) throw notFound(`pipeline "${id}" not found in namespace "${namespaceId}"`);
    return pipeline;
  }

  async list(namespaceId: string): Promise<PipelineEntity[]> {
    return this.db.manager.find(PipelineEntity, { where: { namespaceId }, order: { id: 'ASC' } });
  }

  async setState(namespaceId: string, id: string, state: PipelineState): Promise<PipelineEntity> {
    await this.db.transaction(async (m) => {
      const result = await m.update(PipelineEntity, { namespaceId, id }, { state, updated: new Date() });
      if (!result.affected) throw notFound(`pipeline "${id}" not found in namespace "${namespaceId}"`);
      await this.events.append(m, { kind: state === 'enabled' ? 'pipeline_enabled' : 'pipeline_disabled', namespaceId, pipelineId: id });
    });
    return this.get(namespaceId, id);
  }

  /** Deletes a pipeline with its versions and finished runs; refused while runs are unfinished. */
  async delete(namespaceId: string, id: string): Promise<void> {
    await this.db.transaction(async (m) => {
      const pipeline = await m.findOne(PipelineEntity, { where: { namespaceId, id }, lock: { mode: 'pessimistic_write' } });
      if (!pipeline) throw notFound(`pipeline "${id}" not found in namespace "${namespaceId}"`);
      const unfinished = await m.countBy(RunEntity, { namespaceId, pipelineId: id, state: In(['pending', 'running']) });
      if (unfinished > 0) {
        throw failedPrecondition(
          `pipeline "${id}" has ${unfinished} unfinished run(s); cancel them first: gofer run cancel-all ${id}`,
        );
      }
      await m.delete(SecretEntity, { namespaceId, pipelineId: id });
      await retirePipelines(m, namespaceId, id);
      await m.delete(PipelineEntity, { namespaceId, id }); // configs, runs, task runs and objects cascade
      await this.events.append(m, { kind: 'pipeline_deleted', namespaceId, pipelineId: id });
    });
    this.logger.info({ namespace_id: namespaceId, pipeline_id: id }, 'pipeline deleted');
  }

  async versions(namespaceId: string, id: string): Promise<PipelineConfigEntity[]> {
    await this.get(namespaceId, id);
    return this.db.manager.find(PipelineConfigEntity, { where: { namespaceId, pipelineId: id }, order: { version: 'DESC' } });
  }
}

/**
 * Records what the pipelines being deleted had counted up to (one pipeline, or all of a namespace's),
 * so a pipeline created again under the same id never re-uses a run id or a config version.
 */
export async function retirePipelines(m: EntityManager, namespaceId: string, pipelineId?: string): Promise<void> {
  await retirePipelineCounters(m, namespaceId, pipelineId);
}
