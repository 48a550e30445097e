import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * What a deleted pipeline had counted up to. A pipeline created again under the same id continues
 * from here, so a (namespace, pipeline, run) or (namespace, pipeline, version) key is never given to
 * two different runs or configs: caches, job ids, container names and log keys built from those keys
 * can never mix a deleted pipeline's work with its successor's. Kept after its namespace is deleted.
 */
@Entity({ name: 'retired_pipelines' })
export class RetiredPipelineEntity {
  @PrimaryColumn({ name: 'namespace_id', type: 'text' }) namespaceId!: string;
  @PrimaryColumn({ name: 'pipeline_id', type: 'text' }) pipelineId!: string;
  @Column({ name: 'last_run_id', type: 'int' }) lastRunId!: number;
  @Column({ name: 'last_version', type: 'int' }) lastVersion!: number;
}
