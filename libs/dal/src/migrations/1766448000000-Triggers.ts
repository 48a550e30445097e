import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Installed triggers, the pipelines' subscriptions to them, and leader leases (docs/triggers.md).
 * - `triggers.key` is the shared secret of Gofer and the trigger's container (both directions of the
 *   trigger contract); every API replica needs it in the clear to call the trigger, so it is stored as
 *   the container's environment holds it. `generation` counts installs: the supervisor replaces a
 *   container started for an older one.
 * - A subscription references its trigger, so a trigger cannot be uninstalled while pipelines use it,
 *   and goes with its pipeline. `checkpoint` is the last accepted event's, handed back on Subscribe.
 * - `leases`: one row per duty (`triggers`); `token` grows by one each time the lease changes hands,
 *   and the holder's writes are fenced on it.
 */
export class Triggers1766448000000 implements MigrationInterface {
  name = 'Triggers1766448000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE triggers (
        name text PRIMARY KEY,
        image text NOT NULL,
        settings jsonb NOT NULL DEFAULT '{}',
        key text NOT NULL,
        generation int NOT NULL DEFAULT 1,
        builtin boolean NOT NULL DEFAULT false,
        state text NOT NULL DEFAULT 'starting',
        container_id text NOT NULL DEFAULT '',
        address text NOT NULL DEFAULT '',
        instance_id text NOT NULL DEFAULT '',
        description text NOT NULL DEFAULT '',
        settings_doc jsonb NOT NULL DEFAULT '[]',
        restarts int NOT NULL DEFAULT 0,
        last_event timestamptz,
        last_error text NOT NULL DEFAULT '',
        installed timestamptz NOT NULL,
        updated timestamptz NOT NULL
      )`);
    await db.query(`
      CREATE TABLE trigger_subscriptions (
        namespace_id text NOT NULL,
        pipeline_id text NOT NULL,
        label text NOT NULL,
        trigger_name text NOT NULL REFERENCES triggers (name),
        settings jsonb NOT NULL DEFAULT '{}',
        checkpoint text NOT NULL DEFAULT '',
        last_event timestamptz,
        last_event_key text NOT NULL DEFAULT '',
        created timestamptz NOT NULL,
        PRIMARY KEY (namespace_id, pipeline_id, label),
        FOREIGN KEY (namespace_id, pipeline_id) REFERENCES pipelines (namespace_id, id) ON DELETE CASCADE
      )`);
    await db.query(`CREATE INDEX trigger_subscriptions_trigger ON trigger_subscriptions (trigger_name)`);
    await db.query(`
      CREATE TABLE leases (
        duty text PRIMARY KEY,
        holder text NOT NULL,
        token bigint NOT NULL,
        expires timestamptz NOT NULL
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE leases`);
    await db.query(`DROP TABLE trigger_subscriptions`);
    await db.query(`DROP TABLE triggers`);
  }
}
