import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** Something that changed. Never carries a secret value or an object's content. */
@Entity({ name: 'events' })
export class EventEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id!: string;
  @Column({ type: 'text' }) kind!: string;
  @Column({ name: 'namespace_id', type: 'text' }) namespaceId!: string;
  @Column({ name: 'pipeline_id', type: 'text' }) pipelineId!: string;
  @Column({ name: 'run_id', type: 'int' }) runId!: number;
  @Column({ name: 'task_id', type: 'text' }) taskId!: string;
  @Column({ type: 'jsonb' }) details!: Record<string, unknown>;
  @Column({ type: 'timestamptz' }) emitted!: Date;
}
