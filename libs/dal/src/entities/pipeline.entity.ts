import { Column, Entity, PrimaryColumn } from 'typeorm';

export type PipelineState = 'enabled' | 'disabled';

@Entity({ name: 'pipelines' })
export class PipelineEntity {
  @PrimaryColumn({ name: 'namespace_id', type: 'text' }) namespaceId!: string;
  @PrimaryColumn({ type: 'text' }) id!: string;
  @Column({ type: 'text' }) name!: string;
  @Column({ type: 'text' }) description!: string;
  @Column({ type: 'text' }) state!: PipelineState;
  /** Max runs in flight; 0 = unlimited. Copied from the latest config version. */
  @Column({ type: 'int' }) parallelism!: number;
  @Column({ name: 'latest_version', type: 'int' }) latestVersion!: number;
  /** Run ids count up per pipeline; the next run takes lastRunId + 1 under a row lock. */
  @Column({ name: 'last_run_id', type: 'int' }) lastRunId!: number;
  @Column({ type: 'timestamptz' }) created!: Date;
  @Column({ type: 'timestamptz' }) updated!: Date;
}
