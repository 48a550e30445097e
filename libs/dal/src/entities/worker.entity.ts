import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Live workers; a stale heartbeat lets the reconciler hand a dead worker's tasks to others. */
@Entity({ name: 'workers' })
export class WorkerEntity {
  @PrimaryColumn({ type: 'text' }) id!: string;
  @Column({ type: 'timestamptz' }) started!: Date;
  @Column({ name: 'last_seen', type: 'timestamptz' }) lastSeen!: Date;
}
