import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A pipeline's use of an installed trigger under a label (its config's `triggers[]` entry). */
@Entity({ name: 'trigger_subscriptions' })
export class TriggerSubscriptionEntity {
  @PrimaryColumn({ name: 'namespace_id', type: 'text' }) namespaceId!: string;
  @PrimaryColumn({ name: 'pipeline_id', type: 'text' }) pipelineId!: string;
  @PrimaryColumn({ type: 'text' }) label!: string;
  @Column({ name: 'trigger_name', type: 'text' }) triggerName!: string;
  @Column({ type: 'jsonb' }) settings!: Record<string, string>;
  /** The last accepted event's checkpoint; empty if none. */
  @Column({ type: 'text' }) checkpoint!: string;
  @Column({ name: 'last_event', type: 'timestamptz', nullable: true }) lastEvent!: Date | null;
  @Column({ name: 'last_event_key', type: 'text' }) lastEventKey!: string;
  @Column({ type: 'timestamptz' }) created!: Date;
}
