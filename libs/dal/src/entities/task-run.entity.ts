import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { StatusReason } from './run.entity.js';

export type TaskRunState = 'processing' | 'waiting' | 'running' | 'complete';
export type TaskRunStatus = 'successful' | 'failed' | 'cancelled' | 'skipped';
export type TaskRunReason =
  | 'abnormal_exit' | 'scheduler_error' | 'failed_precondition' | 'cancelled' | 'orphaned' | 'timeout';

/** What an earlier attempt of a retried task ended with. */
export interface PastAttempt {
  attempt: number;
  exitCode: number | null;
  statusReason: StatusReason<TaskRunReason>;
  schedulerId: string | null;
  workerId: string | null;
  started: string | null;
  ended: string;
}

/**
 * One row per task of a run; `attempt` counts up on retries. Every transition is a compare-and-set on
 * (state, attempt[, worker_id]) so two workers can never both start or complete the same attempt.
 */
@Entity({ name: 'task_runs' })
export class TaskRunEntity {
  @PrimaryColumn({ name: 'namespace_id', type: 'text' }) namespaceId!: string;
  @PrimaryColumn({ name: 'pipeline_id', type: 'text' }) pipelineId!: string;
  @PrimaryColumn({ name: 'run_id', type: 'int' }) runId!: number;
  @PrimaryColumn({ name: 'task_id', type: 'text' }) taskId!: string;
  @Column({ type: 'int' }) attempt!: number;
  @Column({ type: 'text' }) state!: TaskRunState;
  @Column({ type: 'text', nullable: true }) status!: TaskRunStatus | null;
  @Column({ name: 'status_reason', type: 'jsonb', nullable: true }) statusReason!: StatusReason<TaskRunReason> | null;
  @Column({ name: 'exit_code', type: 'int', nullable: true }) exitCode!: number | null;
  @Column({ type: 'text' }) image!: string;
  @Column({ name: 'scheduler_id', type: 'text', nullable: true }) schedulerId!: string | null;
  @Column({ name: 'worker_id', type: 'text', nullable: true }) workerId!: string | null;
  /** When a waiting attempt may start (retry backoff); the reconciler re-enqueues with the remaining delay. */
  @Column({ name: 'ready_at', type: 'timestamptz', nullable: true }) readyAt!: Date | null;
  @Column({ name: 'cancel_requested', type: 'boolean' }) cancelRequested!: boolean;
  /** Set when this result was copied from an earlier run by RetryRun. */
  @Column({ name: 'reused_from_run', type: 'int', nullable: true }) reusedFromRun!: number | null;
  @Column({ name: 'log_bytes', type: 'bigint', default: 0 }) logBytes!: string;
  @Column({ name: 'logs_truncated', type: 'boolean' }) logsTruncated!: boolean;
  @Column({ name: 'logs_archived', type: 'boolean' }) logsArchived!: boolean;
  @Column({ name: 'past_attempts', type: 'jsonb' }) pastAttempts!: PastAttempt[];
  @Column({ type: 'timestamptz', nullable: true }) started!: Date | null;
  @Column({ type: 'timestamptz', nullable: true }) ended!: Date | null;
}
