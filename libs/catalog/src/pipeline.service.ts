import { Inject, Injectable } from '@nestjs/common';
import {
  NamespacesRepository, PipelineConfigsRepository, PipelinesRepository, Transactions,
  type EntityManager, type PipelineConfigEntity, type PipelineEntity, type PipelineState,
} from '@gofer/dal';
import { formatConfigIssues, type ConfigTextFormat, type PipelineConfig } from '@gofer/pipeline';
import type { Logger } from 'pino';
import { ConfigParser } from './config-parser.js';
import { LOGGER } from '@gofer/config';
import { failedPrecondition, GoferError, invalidArgument, notFound } from '@gofer/errors';
import { EventLog } from '@gofer/events';

/**
 * A check of a parsed config against what other owners hold (installed triggers, notifiers): it throws
 * INVALID_ARGUMENT naming each bad field, or returns what to store in the transaction that stores the
 * config. Every check runs, and their problems are reported together.
 */
export type ApplyCheck = (namespaceId: string, config: PipelineConfig) => Promise<((m: EntityManager) => Promise<void>) | void>;

/** Pipelines and their config versions. */
@Injectable()
export class PipelineService {
  constructor(
    private readonly transactions: Transactions,
    private readonly pipelines: PipelinesRepository,
    private readonly configs: PipelineConfigsRepository,
    private readonly namespaces: NamespacesRepository,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly events: EventLog,
    private readonly parser: ConfigParser,
  ) {}

  /**
   * Validates a config and stores it as the pipeline's next version (creating the pipeline on first
   * apply). `format` `json` holds the document to strict JSON; otherwise it is read as YAML (of which
   * JSON is a subset).
   */
  async apply(
    namespaceId: string,
    raw: Uint8Array,
    format: ConfigTextFormat = 'auto',
    checks: readonly ApplyCheck[] = [],
  ): Promise<{ pipeline: PipelineEntity; version: number; config: PipelineConfig }> {
    const parsed = await this.parser.parse(raw, { format });
    if (!parsed.ok) throw invalidArgument(formatConfigIssues(parsed.errors));
    const config = parsed.config;
    const outcomes = await Promise.allSettled(checks.map((check) => check(namespaceId, config)));
    const problems = outcomes.flatMap((o) => (o.status === 'rejected' && o.reason instanceof GoferError && o.reason.code === 'invalid_argument' ? [o.reason.message] : []));
    if (problems.length > 0) throw invalidArgument(problems.join('\n'));
    const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failure) throw failure.reason;
    const writers = outcomes.flatMap((o) => (o.status === 'fulfilled' && o.value ? [o.value] : []));
    const result = await this.transactions.once(async (m) => {
      if (!(await this.namespaces.exists(m, namespaceId))) throw notFound(`namespace "${namespaceId}" not found`);
      // Insert-or-lock, so two concurrent applies of a new pipeline serialise instead of racing. A
      // pipeline created again under a deleted one's id continues its run and version numbers.
      const created = await this.pipelines.insertIfAbsent(m, {
        namespaceId, id: config.id, name: config.name, description: config.description, parallelism: config.parallelism,
      });
      if (created) {
        // The INSERT's snapshot predates a delete it waited for (a delete and a re-create racing): read
        // the retired counters again, now that that delete has committed.
        await this.pipelines.catchUpRetiredCounters(m, namespaceId, config.id);
      }
      const pipeline = (await this.pipelines.lock(m, namespaceId, config.id))!;
      pipeline.latestVersion += 1;
      pipeline.name = config.name;
      pipeline.description = config.description;
      pipeline.parallelism = config.parallelism;
      pipeline.updated = new Date();
      await this.configs.insert(m, {
        namespaceId, pipelineId: config.id, version: pipeline.latestVersion, config,
        raw: Buffer.from(raw).toString('utf8'), created: new Date(),
      });
      await this.pipelines.save(m, pipeline);
      await this.events.append(m, {
        kind: created ? 'pipeline_created' : 'pipeline_config_applied',
        namespaceId, pipelineId: config.id, details: { version: pipeline.latestVersion },
      });
      for (const write of writers) await write(m);
      return { pipeline, version: pipeline.latestVersion, config };
    });
    this.logger.info({ namespace_id: namespaceId, pipeline_id: config.id, version: result.version }, 'pipeline config applied');
    return result;
  }

  async get(namespaceId: string, id: string): Promise<PipelineEntity> {
    const pipeline = await this.pipelines.find(namespaceId, id);
    if (!pipeline) throw notFound(`pipeline "${id}" not found in namespace "${namespaceId}"`);
    return pipeline;
  }

  async list(namespaceId: string): Promise<PipelineEntity[]> {
    return this.pipelines.list(namespaceId);
  }

  async setState(namespaceId: string, id: string, state: PipelineState): Promise<PipelineEntity> {
    await this.transactions.once(async (m) => {
      if (!(await this.pipelines.setState(m, namespaceId, id, state))) throw notFound(`pipeline "${id}" not found in namespace "${namespaceId}"`);
      await this.events.append(m, { kind: state === 'enabled' ? 'pipeline_enabled' : 'pipeline_disabled', namespaceId, pipelineId: id });
    });
    return this.get(namespaceId, id);
  }

  /** Deletes a pipeline with its versions and finished runs; refused while runs are unfinished. */
  async delete(namespaceId: string, id: string): Promise<void> {
    await this.transactions.once(async (m) => {
      const pipeline = await this.pipelines.lock(m, namespaceId, id);
      if (!pipeline) throw notFound(`pipeline "${id}" not found in namespace "${namespaceId}"`);
      const unfinished = await this.pipelines.countUnfinishedRuns(m, namespaceId, id);
      if (unfinished > 0) {
        throw failedPrecondition(
          `pipeline "${id}" has ${unfinished} unfinished run(s); cancel them first: gofer run cancel-all ${id}`,
        );
      }
      await this.pipelines.delete(m, namespaceId, id); // with its secrets; configs, runs, task runs and objects cascade
      await this.events.append(m, { kind: 'pipeline_deleted', namespaceId, pipelineId: id });
    });
    this.logger.info({ namespace_id: namespaceId, pipeline_id: id }, 'pipeline deleted');
  }

  async versions(namespaceId: string, id: string): Promise<PipelineConfigEntity[]> {
    await this.get(namespaceId, id);
    return this.configs.list(namespaceId, id);
  }
}

