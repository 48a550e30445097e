import { Column, Entity, PrimaryColumn } from 'typeorm';

export type RunState = 'pending' | 'running' | 'complete';
export type RunStatus = 'successful' | 'failed' | 'cancelled';
export type RunReason = 'abnormal_exit' | 'scheduler_error' | 'failed_precondition' | 'user_cancelled' | 'timeout';
export interface StatusReason<R extends string = string> { reason: R; description: string }

@Entity({ name: 'runs' })
export class RunEntity {
  @PrimaryColumn({ name: 'namespace_id', type: 'text' }) namespaceId!: string;
  @PrimaryColumn({ name: 'pipeline_id', type: 'text' }) pipelineId!: string;
  @PrimaryColumn({ type: 'int' }) id!: number;
  @Column({ name: 'config_version', type: 'int' }) configVersion!: number;
  @Column({ type: 'text' }) state!: RunState;
  @Column({ type: 'text', nullable: true }) status!: RunStatus | null;
  @Column({ name: 'status_reason', type: 'jsonb', nullable: true }) statusReason!: StatusReason<RunReason> | null;
  @Column({ type: 'jsonb' }) variables!: Record<string, string>;
  /** Set on runs made by RetryRun: the run whose successful results this one re-uses. */
  @Column({ name: 'retry_of', type: 'int', nullable: true }) retryOf!: number | null;
  /** Who started the run: `token/<token id>` (or `trigger/<label>`); empty for runs from before it was recorded. */
  @Column({ name: 'started_by', type: 'text' }) startedBy!: string;
  /** The key a start was made idempotent with: a second start with it returns this run. */
  @Column({ name: 'idempotency_key', type: 'text', nullable: true }) idempotencyKey!: string | null;
  @Column({ name: 'cancel_requested', type: 'boolean' }) cancelRequested!: boolean;
  @Column({ type: 'timestamptz' }) created!: Date;
  @Column({ type: 'timestamptz', nullable: true }) started!: Date | null;
  @Column({ type: 'timestamptz', nullable: true }) ended!: Date | null;
}
