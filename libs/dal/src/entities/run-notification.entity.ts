import { Column, Entity, PrimaryColumn } from 'typeorm';

export type NotificationState = 'pending' | 'running' | 'complete';
export type NotificationStatus = 'successful' | 'failed';

/** One notifier run after a run completed: a `notifiers[]` entry of the run's config, by its label. */
@Entity({ name: 'run_notifications' })
export class RunNotificationEntity {
  @PrimaryColumn({ name: 'namespace_id', type: 'text' }) namespaceId!: string;
  @PrimaryColumn({ name: 'pipeline_id', type: 'text' }) pipelineId!: string;
  @PrimaryColumn({ name: 'run_id', type: 'int' }) runId!: number;
  @PrimaryColumn({ type: 'text' }) label!: string;
  /** The installed notifier's name, as the config wrote it when the run started. */
  @Column({ type: 'text' }) notifier!: string;
  @Column({ type: 'text' }) state!: NotificationState;
  @Column({ type: 'text', nullable: true }) status!: NotificationStatus | null;
  /** The container's exit code; null if it never ran (not installed, could not start). */
  @Column({ name: 'exit_code', type: 'int', nullable: true }) exitCode!: number | null;
  /** Why it failed, e.g. `exited with code 3: …`; empty when successful. */
  @Column({ type: 'text' }) reason!: string;
  /** The scheduler's id for its container, once started. */
  @Column({ name: 'container_id', type: 'text', nullable: true }) containerId!: string | null;
  /** The worker that claimed it (compare-and-set fence). */
  @Column({ name: 'worker_id', type: 'text', nullable: true }) workerId!: string | null;
  @Column({ type: 'timestamptz' }) created!: Date;
  @Column({ type: 'timestamptz', nullable: true }) started!: Date | null;
  @Column({ type: 'timestamptz', nullable: true }) ended!: Date | null;
}
