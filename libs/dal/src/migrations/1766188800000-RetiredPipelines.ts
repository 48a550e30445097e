import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The run and version counters of deleted pipelines (see retired-pipeline.entity.ts). */
export class RetiredPipelines1766188800000 implements MigrationInterface {
  name = 'RetiredPipelines1766188800000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE retired_pipelines (
        namespace_id text NOT NULL,
        pipeline_id text NOT NULL,
        last_run_id int NOT NULL,
        last_version int NOT NULL,
        PRIMARY KEY (namespace_id, pipeline_id)
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE retired_pipelines');
  }
}
