import { Inject, Injectable } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import { DATA_SOURCE } from '../dal.tokens.js';
import { NotifierEntity } from '../entities/notifier.entity.js';

/** A notifier as installed: its settings already sealed. */
export interface NewNotifier {
  name: string;
  image: string;
  /** key → sealed value. */
  settings: Record<string, string>;
  builtin: boolean;
}

/** The `notifiers` table. Methods taking an `EntityManager` run in the caller's transaction. */
@Injectable()
export class NotifiersRepository {
  constructor(@Inject(DATA_SOURCE) private readonly db: DataSource) {}

  get(name: string): Promise<NotifierEntity | null> {
    return this.db.manager.findOneBy(NotifierEntity, { name });
  }

  list(): Promise<NotifierEntity[]> {
    return this.db.manager.find(NotifierEntity, { order: { name: 'ASC' } });
  }

  /** Installs a notifier, or replaces the image, settings and origin of the one with its name. */
  async upsert(m: EntityManager, notifier: NewNotifier): Promise<NotifierEntity> {
    await m.query(
      `INSERT INTO notifiers (name, image, settings, builtin, installed, updated)
       VALUES ($1, $2, $3::jsonb, $4, now(), now())
       ON CONFLICT (name) DO UPDATE SET image = EXCLUDED.image, settings = EXCLUDED.settings,
         builtin = EXCLUDED.builtin, installed = EXCLUDED.installed, updated = EXCLUDED.updated`,
      [notifier.name, notifier.image, JSON.stringify(notifier.settings), notifier.builtin],
    );
    return m.findOneByOrFail(NotifierEntity, { name: notifier.name });
  }

  /**
   * Installs a built-in notifier (no settings) unless a notifier of its name exists with this image
   * already, or was installed by a user (which is left as the user made it). Every replica calls it at
   * startup; true only for the call that changed something.
   */
  async installBuiltin(m: EntityManager, name: string, image: string): Promise<boolean> {
    const rows = (await m.query(
      `INSERT INTO notifiers (name, image, settings, builtin, installed, updated)
       VALUES ($1, $2, '{}', true, now(), now())
       ON CONFLICT (name) DO UPDATE SET image = EXCLUDED.image, updated = EXCLUDED.updated
         WHERE notifiers.builtin AND notifiers.image IS DISTINCT FROM EXCLUDED.image
       RETURNING name`,
      [name, image],
    )) as unknown[];
    return rows.length > 0;
  }

  /** The notifier with its row locked (`FOR UPDATE`) until the transaction ends; null if absent. */
  lock(m: EntityManager, name: string): Promise<NotifierEntity | null> {
    return m.findOne(NotifierEntity, { where: { name }, lock: { mode: 'pessimistic_write' } });
  }

  /**
   * Which of `names` are installed. In a transaction `m` each row stays share-locked until it ends: a
   * config naming them is stored before an uninstall (which locks the row for update) can look for it.
   */
  async lockInstalled(names: readonly string[], m: EntityManager = this.db.manager): Promise<string[]> {
    if (names.length === 0) return [];
    const rows = (await m.query(
      `SELECT name FROM notifiers WHERE name = ANY($1::text[]) ORDER BY name FOR SHARE`,
      [[...new Set(names)]],
    )) as Array<{ name: string }>;
    return rows.map((row) => row.name);
  }

  /** Up to `limit` pipelines whose latest config lists notifier `name`, by namespace and id. */
  async pipelinesListing(m: EntityManager, name: string, limit: number): Promise<Array<{ namespace_id: string; pipeline_id: string }>> {
    return m.query(
      `SELECT p.namespace_id, p.id AS pipeline_id FROM pipelines p
         JOIN pipeline_configs c ON c.namespace_id = p.namespace_id AND c.pipeline_id = p.id AND c.version = p.latest_version
        WHERE c.config -> 'notifiers' @> jsonb_build_array(jsonb_build_object('notifier', $1::text))
        ORDER BY p.namespace_id, p.id LIMIT $2`,
      [name, limit],
    );
  }

  async delete(m: EntityManager, name: string): Promise<void> {
    await m.delete(NotifierEntity, { name });
  }

  /** Every notifier with settings, rows locked for update (re-sealing them under a new key). */
  lockAllWithSettings(m: EntityManager): Promise<NotifierEntity[]> {
    return m
      .createQueryBuilder(NotifierEntity, 'n')
      .where(`n.settings <> '{}'::jsonb`)
      .orderBy('n.name')
      .setLock('pessimistic_write')
      .getMany();
  }

  async setSettings(m: EntityManager, name: string, settings: Record<string, string>): Promise<void> {
    await m.query(`UPDATE notifiers SET settings = $2::jsonb WHERE name = $1`, [name, JSON.stringify(settings)]);
  }
}
