import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Runs record who started them (`started_by`: `token/<id>`, later `trigger/<label>`) and may carry an
 * idempotency key, unique per pipeline: a start repeated with the same key (a redelivered trigger
 * event, a client retrying after a lost answer) gets the first run back instead of a second one.
 */
export class RunStartedBy1766275200000 implements MigrationInterface {
  name = 'RunStartedBy1766275200000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE runs ADD COLUMN started_by text NOT NULL DEFAULT ''`);
    await db.query(`ALTER TABLE runs ADD COLUMN idempotency_key text`);
    await db.query(
      `CREATE UNIQUE INDEX runs_idempotency_key ON runs (namespace_id, pipeline_id, idempotency_key) WHERE idempotency_key IS NOT NULL`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX runs_idempotency_key`);
    await db.query(`ALTER TABLE runs DROP COLUMN idempotency_key`);
    await db.query(`ALTER TABLE runs DROP COLUMN started_by`);
  }
}
