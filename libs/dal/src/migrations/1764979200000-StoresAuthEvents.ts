import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Object and secret stores, API tokens and the event log (docs/design.md §7, §8). */
export class StoresAuthEvents1764979200000 implements MigrationInterface {
  name = 'StoresAuthEvents1764979200000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      -- bootstrapped: BootstrapToken works once. key_canary: a value sealed with the encryption key, so a
      -- service started with the wrong key stops before it touches a secret.
      ALTER TABLE cluster ADD COLUMN bootstrapped timestamptz, ADD COLUMN key_canary text;

      CREATE TABLE tokens (
        id text PRIMARY KEY,
        hash bytea NOT NULL UNIQUE,
        kind text NOT NULL CHECK (kind IN ('management', 'client')),
        namespaces jsonb NOT NULL DEFAULT '[]',
        metadata jsonb NOT NULL DEFAULT '{}',
        created timestamptz NOT NULL DEFAULT now(),
        expires timestamptz,
        disabled boolean NOT NULL DEFAULT false,
        -- A token injected into a run's tasks (inject_api_token); deleted when the run completes.
        run_namespace_id text,
        run_pipeline_id text,
        run_id int
      );
      CREATE INDEX tokens_of_run ON tokens (run_namespace_id, run_pipeline_id, run_id) WHERE run_id IS NOT NULL;

      -- run_id 0: a pipeline object. Content lives in the object store under storage_key (one per version,
      -- so a replaced object's old content is deleted only after the new row committed).
      CREATE TABLE objects (
        namespace_id text NOT NULL,
        pipeline_id text NOT NULL,
        run_id int NOT NULL DEFAULT 0,
        key text NOT NULL,
        size bigint NOT NULL,
        sha256 text NOT NULL,
        storage_key text NOT NULL,
        created timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (namespace_id, pipeline_id, run_id, key),
        FOREIGN KEY (namespace_id, pipeline_id) REFERENCES pipelines (namespace_id, id) ON DELETE CASCADE
      );
      CREATE INDEX objects_by_age ON objects (namespace_id, pipeline_id, run_id, created);

      -- Pipeline secrets: namespace_id and pipeline_id set. Global secrets: both ''; namespaces lists
      -- where they may be used. The value is sealed (AES-256-GCM) with the scope and key as associated data.
      CREATE TABLE secrets (
        namespace_id text NOT NULL,
        pipeline_id text NOT NULL,
        key text NOT NULL,
        key_id text NOT NULL,
        nonce bytea NOT NULL,
        ciphertext bytea NOT NULL,
        namespaces jsonb NOT NULL DEFAULT '[]',
        created timestamptz NOT NULL DEFAULT now(),
        updated timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (namespace_id, pipeline_id, key)
      );
      CREATE INDEX secrets_by_key_id ON secrets (key_id);

      CREATE TABLE events (
        id bigserial PRIMARY KEY,
        kind text NOT NULL,
        namespace_id text NOT NULL DEFAULT '',
        pipeline_id text NOT NULL DEFAULT '',
        run_id int NOT NULL DEFAULT 0,
        task_id text NOT NULL DEFAULT '',
        details jsonb NOT NULL DEFAULT '{}',
        emitted timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX events_by_time ON events (emitted);
    `);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      DROP TABLE events; DROP TABLE secrets; DROP TABLE objects; DROP TABLE tokens;
      ALTER TABLE cluster DROP COLUMN bootstrapped, DROP COLUMN key_canary;
    `);
  }
}
