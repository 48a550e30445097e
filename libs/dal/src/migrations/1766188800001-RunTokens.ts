import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Tokens injected into a run's tasks get their own kind, `run`, confined to that run; the ones issued
 * before (client tokens of the run's namespace with a run recorded) become run tokens too.
 */
export class RunTokens1766188800001 implements MigrationInterface {
  name = 'RunTokens1766188800001';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE tokens DROP CONSTRAINT tokens_kind_check`);
    await db.query(`ALTER TABLE tokens ADD CONSTRAINT tokens_kind_check CHECK (kind IN ('management', 'client', 'run'))`);
    await db.query(`UPDATE tokens SET kind = 'run' WHERE run_id IS NOT NULL`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`UPDATE tokens SET kind = 'client' WHERE kind = 'run'`);
    await db.query(`ALTER TABLE tokens DROP CONSTRAINT tokens_kind_check`);
    await db.query(`ALTER TABLE tokens ADD CONSTRAINT tokens_kind_check CHECK (kind IN ('management', 'client'))`);
  }
}
