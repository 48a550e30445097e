import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Pending runs by pipeline: every completion of a run asks whether its pipeline has any (one index probe,
 * usually finding none), and admission takes them oldest first.
 */
export class PendingRunsIndex1765584000000 implements MigrationInterface {
  name = 'PendingRunsIndex1765584000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX runs_pending ON runs (namespace_id, pipeline_id, id) WHERE state = 'pending'`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP INDEX runs_pending');
  }
}
