import { Inject, Injectable } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import { DATA_SOURCE } from '../dal.tokens.js';
import { PipelineConfigEntity } from '../entities/pipeline-config.entity.js';

/** The `pipeline_configs` table: one row per applied version of a pipeline's config. */
@Injectable()
export class PipelineConfigsRepository {
  constructor(@Inject(DATA_SOURCE) private readonly db: DataSource) {}

  async insert(
    m: EntityManager,
    config: Pick<PipelineConfigEntity, 'namespaceId' | 'pipelineId' | 'version' | 'config' | 'raw' | 'created'>,
  ): Promise<void> {
    await m.insert(PipelineConfigEntity, config);
  }

  /** One version of a pipeline's config, or null. */
  find(namespaceId: string, pipelineId: string, version: number): Promise<PipelineConfigEntity | null> {
    return this.db.manager.findOneBy(PipelineConfigEntity, { namespaceId, pipelineId, version });
  }

  /** A pipeline's config versions, newest first. */
  list(namespaceId: string, pipelineId: string): Promise<PipelineConfigEntity[]> {
    return this.db.manager.find(PipelineConfigEntity, { where: { namespaceId, pipelineId }, order: { version: 'DESC' } });
  }
}
