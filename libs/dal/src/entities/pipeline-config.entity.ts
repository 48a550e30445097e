import type { PipelineConfig } from '@gofer/pipeline';
import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity({ name: 'pipeline_configs' })
export class PipelineConfigEntity {
  @PrimaryColumn({ name: 'namespace_id', type: 'text' }) namespaceId!: string;
  @PrimaryColumn({ name: 'pipeline_id', type: 'text' }) pipelineId!: string;
  @PrimaryColumn({ type: 'int' }) version!: number;
  /** The validated, normalised config the engine runs. */
  @Column({ type: 'jsonb' }) config!: PipelineConfig;
  /** The document as the user submitted it. */
  @Column({ type: 'text' }) raw!: string;
  @Column({ type: 'timestamptz' }) created!: Date;
}
