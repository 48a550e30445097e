import { Column, Entity, PrimaryColumn } from 'typeorm';

/** One row: the identity of this Gofer cluster (its containers carry it as label `gofer.cluster`). */
@Entity({ name: 'cluster' })
export class ClusterEntity {
  @PrimaryColumn({ type: 'int' }) singleton!: number;
  @Column({ type: 'uuid' }) id!: string;
  @Column({ type: 'timestamptz' }) created!: Date;
}
