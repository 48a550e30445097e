import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity({ name: 'namespaces' })
export class NamespaceEntity {
  @PrimaryColumn({ type: 'text' }) id!: string;
  @Column({ type: 'text' }) name!: string;
  @Column({ type: 'text', default: '' }) description!: string;
  @Column({ type: 'timestamptz' }) created!: Date;
  @Column({ type: 'timestamptz' }) updated!: Date;
}
