import { Column, Entity, PrimaryColumn } from 'typeorm';

/** `run`: injected into a run's tasks (inject_api_token), confined to that run (see token.service.ts). */
export type TokenKind = 'management' | 'client' | 'run';

/** An API token; only the SHA-256 of its secret is stored. */
@Entity({ name: 'tokens' })
export class TokenEntity {
  @PrimaryColumn({ type: 'text' }) id!: string;
  @Column({ type: 'bytea' }) hash!: Buffer;
  @Column({ type: 'text' }) kind!: TokenKind;
  /** Namespaces a client token may use: exact names or `/regular expressions/`. */
  @Column({ type: 'jsonb' }) namespaces!: string[];
  @Column({ type: 'jsonb' }) metadata!: Record<string, string>;
  @Column({ type: 'timestamptz' }) created!: Date;
  @Column({ type: 'timestamptz', nullable: true }) expires!: Date | null;
  @Column({ type: 'boolean' }) disabled!: boolean;
  @Column({ name: 'run_namespace_id', type: 'text', nullable: true }) runNamespaceId!: string | null;
  @Column({ name: 'run_pipeline_id', type: 'text', nullable: true }) runPipelineId!: string | null;
  @Column({ name: 'run_id', type: 'int', nullable: true }) runId!: number | null;
}
