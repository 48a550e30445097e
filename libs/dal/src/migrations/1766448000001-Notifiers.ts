import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Installed notifiers and the notifications of each run (docs/design.md §6).
 * - `notifiers.settings` maps each install setting's key to its value sealed with the secret store's
 *   keyring (`v1.<key id>.<nonce>.<ciphertext>`, scope `notifier:<name>`): keys are shown, values never.
 * - `run_notifications`: one row per `notifiers[]` entry of a run's config, inserted in the transaction
 *   that completes the run. A worker moves it `pending → running → complete` with compare-and-sets on
 *   state and `worker_id` (as task attempts), so a notifier runs at most once per run and label.
 */
export class Notifiers1766448000001 implements MigrationInterface {
  name = 'Notifiers1766448000001';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE notifiers (
        name text PRIMARY KEY,
        image text NOT NULL,
        settings jsonb NOT NULL DEFAULT '{}',
        builtin boolean NOT NULL DEFAULT false,
        installed timestamptz NOT NULL,
        updated timestamptz NOT NULL
      )`);
    await db.query(`
      CREATE TABLE run_notifications (
        namespace_id text NOT NULL,
        pipeline_id text NOT NULL,
        run_id int NOT NULL,
        label text NOT NULL,
        notifier text NOT NULL,
        state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'complete')),
        status text CHECK (status IN ('successful', 'failed')),
        exit_code int,
        reason text NOT NULL DEFAULT '',
        container_id text,
        worker_id text,
        created timestamptz NOT NULL DEFAULT now(),
        started timestamptz,
        ended timestamptz,
        PRIMARY KEY (namespace_id, pipeline_id, run_id, label),
        FOREIGN KEY (namespace_id, pipeline_id, run_id) REFERENCES runs (namespace_id, pipeline_id, id) ON DELETE CASCADE,
        CHECK ((state = 'complete') = (status IS NOT NULL))
      )`);
    // The reconciler's scan: only unfinished notifications.
    await db.query(`CREATE INDEX run_notifications_unfinished ON run_notifications (state) WHERE state <> 'complete'`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE run_notifications`);
    await db.query(`DROP TABLE notifiers`);
  }
}
