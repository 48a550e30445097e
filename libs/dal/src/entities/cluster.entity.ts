import { Column, Entity, PrimaryColumn } from 'typeorm';

/** One row: the identity of this Gofer cluster (its containers carry it as label `gofer.cluster`). */
@Entity({ name: 'cluster' })
export class ClusterEntity {
  @PrimaryColumn({ type: 'int' }) singleton!: number;
  @Column({ type: 'uuid' }) id!: string;
  @Column({ type: 'timestamptz' }) created!: Date;
  /** When BootstrapToken issued the first management token (it works once). */
  @Column({ type: 'timestamptz', nullable: true }) bootstrapped!: Date | null;
  /** A value sealed with the encryption key: starting with another key fails on it. */
  @Column({ name: 'key_canary', type: 'text', nullable: true }) keyCanary!: string | null;
}
