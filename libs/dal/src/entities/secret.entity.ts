import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A sealed secret: a pipeline's (namespace and pipeline set) or a global one (both ''). */
@Entity({ name: 'secrets' })
export class SecretEntity {
  @PrimaryColumn({ name: 'namespace_id', type: 'text' }) namespaceId!: string;
  @PrimaryColumn({ name: 'pipeline_id', type: 'text' }) pipelineId!: string;
  @PrimaryColumn({ type: 'text' }) key!: string;
  @Column({ name: 'key_id', type: 'text' }) keyId!: string;
  @Column({ type: 'bytea' }) nonce!: Buffer;
  @Column({ type: 'bytea' }) ciphertext!: Buffer;
  /** Global secrets: where they may be used (exact names or `/regular expressions/`). */
  @Column({ type: 'jsonb' }) namespaces!: string[];
  @Column({ type: 'timestamptz' }) created!: Date;
  @Column({ type: 'timestamptz' }) updated!: Date;
}
