import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A pipeline object (`runId` 0) or run object; its content is in the object store at `storageKey`. */
@Entity({ name: 'objects' })
export class ObjectEntity {
  @PrimaryColumn({ name: 'namespace_id', type: 'text' }) namespaceId!: string;
  @PrimaryColumn({ name: 'pipeline_id', type: 'text' }) pipelineId!: string;
  @PrimaryColumn({ name: 'run_id', type: 'int' }) runId!: number;
  @PrimaryColumn({ type: 'text' }) key!: string;
  @Column({ type: 'bigint' }) size!: string;
  @Column({ type: 'text' }) sha256!: string;
  @Column({ name: 'storage_key', type: 'text' }) storageKey!: string;
  @Column({ type: 'timestamptz' }) created!: Date;
}
