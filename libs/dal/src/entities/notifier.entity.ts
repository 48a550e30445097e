import { Column, Entity, PrimaryColumn } from 'typeorm';

/** An installed notifier: the image Gofer runs after each run of the pipelines that list it. */
@Entity({ name: 'notifiers' })
export class NotifierEntity {
  @PrimaryColumn({ type: 'text' }) name!: string;
  @Column({ type: 'text' }) image!: string;
  /** Install settings: key → value sealed with the secret store's keyring (`encodeSealed`). */
  @Column({ type: 'jsonb' }) settings!: Record<string, string>;
  /** Installed by Gofer itself at startup (GOFER_BUILTIN_NOTIFIERS). */
  @Column({ type: 'boolean' }) builtin!: boolean;
  @Column({ type: 'timestamptz' }) installed!: Date;
  @Column({ type: 'timestamptz' }) updated!: Date;
}
