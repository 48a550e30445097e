import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Init1764172800000 implements MigrationInterface {
  name = 'Init1764172800000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE cluster (
        singleton int PRIMARY KEY DEFAULT 1 CHECK (singleton = 1),
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        created timestamptz NOT NULL DEFAULT now()
      );
      INSERT INTO cluster DEFAULT VALUES;

      CREATE TABLE namespaces (
        id text PRIMARY KEY,
        name text NOT NULL,
        description text NOT NULL DEFAULT '',
        created timestamptz NOT NULL DEFAULT now(),
        updated timestamptz NOT NULL DEFAULT now()
      );
      INSERT INTO namespaces (id, name, description) VALUES ('default', 'Default', 'The default namespace.');

      CREATE TABLE pipelines (
        namespace_id text NOT NULL REFERENCES namespaces (id),
        id text NOT NULL,
        name text NOT NULL,
        description text NOT NULL,
        state text NOT NULL CHECK (state IN ('enabled', 'disabled')),
        parallelism int NOT NULL CHECK (parallelism >= 0),
        latest_version int NOT NULL,
        last_run_id int NOT NULL DEFAULT 0,
        created timestamptz NOT NULL DEFAULT now(),
        updated timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (namespace_id, id)
      );

      CREATE TABLE pipeline_configs (
        namespace_id text NOT NULL,
        pipeline_id text NOT NULL,
        version int NOT NULL,
        config jsonb NOT NULL,
        raw text NOT NULL,
        created timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (namespace_id, pipeline_id, version),
        FOREIGN KEY (namespace_id, pipeline_id) REFERENCES pipelines (namespace_id, id) ON DELETE CASCADE
      );

      CREATE TABLE runs (
        namespace_id text NOT NULL,
        pipeline_id text NOT NULL,
        id int NOT NULL,
        config_version int NOT NULL,
        state text NOT NULL CHECK (state IN ('pending', 'running', 'complete')),
        status text CHECK (status IN ('successful', 'failed', 'cancelled')),
        status_reason jsonb,
        variables jsonb NOT NULL DEFAULT '{}',
        retry_of int,
        cancel_requested boolean NOT NULL DEFAULT false,
        created timestamptz NOT NULL DEFAULT now(),
        started timestamptz,
        ended timestamptz,
        PRIMARY KEY (namespace_id, pipeline_id, id),
        FOREIGN KEY (namespace_id, pipeline_id, config_version)
          REFERENCES pipeline_configs (namespace_id, pipeline_id, version) ON DELETE CASCADE,
        CHECK ((state = 'complete') = (status IS NOT NULL))
      );
      CREATE INDEX runs_unfinished ON runs (namespace_id, pipeline_id, id) WHERE state <> 'complete';

      CREATE TABLE task_runs (
        namespace_id text NOT NULL,
        pipeline_id text NOT NULL,
        run_id int NOT NULL,
        task_id text NOT NULL,
        attempt int NOT NULL DEFAULT 1 CHECK (attempt >= 1),
        state text NOT NULL CHECK (state IN ('processing', 'waiting', 'running', 'complete')),
        status text CHECK (status IN ('successful', 'failed', 'cancelled', 'skipped')),
        status_reason jsonb,
        exit_code int,
        image text NOT NULL,
        scheduler_id text,
        worker_id text,
        ready_at timestamptz,
        cancel_requested boolean NOT NULL DEFAULT false,
        reused_from_run int,
        log_bytes bigint NOT NULL DEFAULT 0,
        logs_truncated boolean NOT NULL DEFAULT false,
        logs_archived boolean NOT NULL DEFAULT false,
        past_attempts jsonb NOT NULL DEFAULT '[]',
        started timestamptz,
        ended timestamptz,
        PRIMARY KEY (namespace_id, pipeline_id, run_id, task_id),
        FOREIGN KEY (namespace_id, pipeline_id, run_id) REFERENCES runs (namespace_id, pipeline_id, id) ON DELETE CASCADE,
        CHECK ((state = 'complete') = (status IS NOT NULL))
      );
      -- The reconciler and cancel poller only ever look at in-flight task runs.
      CREATE INDEX task_runs_in_flight ON task_runs (state, worker_id) WHERE state IN ('waiting', 'running');

      CREATE TABLE workers (
        id text PRIMARY KEY,
        started timestamptz NOT NULL DEFAULT now(),
        last_seen timestamptz NOT NULL DEFAULT now()
      );
    `);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE workers, task_runs, runs, pipeline_configs, pipelines, namespaces, cluster`);
  }
}
