import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Where an installed trigger's container stands (proto TriggerState). */
export type TriggerState = 'starting' | 'running' | 'failing';

/** A subscription setting a trigger documents (its Info answer). */
export interface TriggerSettingDoc {
  key: string;
  required: boolean;
  description: string;
}

/** An installed trigger: what to run, its key, and what its supervisor last saw. */
@Entity({ name: 'triggers' })
export class TriggerEntity {
  @PrimaryColumn({ type: 'text' }) name!: string;
  @Column({ type: 'text' }) image!: string;
  /** Install settings, passed as GOFER_TRIGGER_SETTING_<KEY>. */
  @Column({ type: 'jsonb' }) settings!: Record<string, string>;
  /** The shared secret of Gofer and the trigger's container. */
  @Column({ type: 'text' }) key!: string;
  /** Bumped by every install; a container started for an older generation is replaced. */
  @Column({ type: 'int' }) generation!: number;
  @Column({ type: 'boolean' }) builtin!: boolean;
  @Column({ type: 'text' }) state!: TriggerState;
  @Column({ name: 'container_id', type: 'text' }) containerId!: string;
  /** host:port Gofer dials; empty until the container started. */
  @Column({ type: 'text' }) address!: string;
  /** The trigger process's Info.instance_id when last checked: a new one means it restarted. */
  @Column({ name: 'instance_id', type: 'text' }) instanceId!: string;
  @Column({ type: 'text' }) description!: string;
  @Column({ name: 'settings_doc', type: 'jsonb' }) settingsDoc!: TriggerSettingDoc[];
  @Column({ type: 'int' }) restarts!: number;
  @Column({ name: 'last_event', type: 'timestamptz', nullable: true }) lastEvent!: Date | null;
  @Column({ name: 'last_error', type: 'text' }) lastError!: string;
  @Column({ type: 'timestamptz' }) installed!: Date;
  @Column({ type: 'timestamptz' }) updated!: Date;
}
