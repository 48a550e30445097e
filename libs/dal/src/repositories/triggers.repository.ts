import { Inject, Injectable } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import { DATA_SOURCE } from '../dal.tokens.js';
import { TriggerSubscriptionEntity } from '../entities/trigger-subscription.entity.js';
import { TriggerEntity, type TriggerSettingDoc, type TriggerState } from '../entities/trigger.entity.js';

/** What a supervisor saw of a trigger's container, written fenced by its lease. */
export interface TriggerObservation {
  state: TriggerState;
  containerId: string;
  address: string;
  instanceId?: string;
  description?: string;
  settingsDoc?: TriggerSettingDoc[];
  restarts: number;
  lastError: string;
}

/** A subscription with what a trigger needs to (re)start it. */
export type SubscriptionRow = TriggerSubscriptionEntity;

/** The `triggers` and `trigger_subscriptions` tables. */
@Injectable()
export class TriggersRepository {
  constructor(@Inject(DATA_SOURCE) private readonly db: DataSource) {}

  async get(name: string): Promise<TriggerEntity | null> {
    return this.db.manager.findOneBy(TriggerEntity, { name });
  }

  async list(): Promise<TriggerEntity[]> {
    return this.db.manager.find(TriggerEntity, { order: { name: 'ASC' } });
  }

  /**
   * Installs a trigger or, if one has the name, replaces its image and settings and bumps its
   * generation (its key stays, so subscriptions and in-flight events keep working).
   */
  async upsert(trigger: { name: string; image: string; settings: Record<string, string>; key: string; builtin: boolean }): Promise<TriggerEntity> {
    const [row] = await this.db.query<Record<string, unknown>[]>(
      `INSERT INTO triggers (name, image, settings, key, builtin, installed, updated)
       VALUES ($1, $2, $3, $4, $5, now(), now())
       ON CONFLICT (name) DO UPDATE SET image = EXCLUDED.image, settings = EXCLUDED.settings,
         builtin = EXCLUDED.builtin, generation = triggers.generation + 1, state = 'starting', updated = now()
       RETURNING name`,
      [trigger.name, trigger.image, JSON.stringify(trigger.settings), trigger.key, trigger.builtin],
    );
    return (await this.get(row!.name as string))!;
  }

  /**
   * Installs a built-in unless it is installed with the same image and settings already, or a user
   * installed a trigger of that name (left as the user made it). Every replica calls this at startup;
   * only a real change bumps the generation.
   */
  async upsertIfChanged(trigger: { name: string; image: string; settings: Record<string, string>; key: string; builtin: boolean }): Promise<void> {
    await this.db.query(
      `INSERT INTO triggers (name, image, settings, key, builtin, installed, updated)
       VALUES ($1, $2, $3, $4, $5, now(), now())
       ON CONFLICT (name) DO UPDATE SET image = EXCLUDED.image, settings = EXCLUDED.settings,
         generation = triggers.generation + 1, state = 'starting', updated = now()
       WHERE triggers.builtin AND (triggers.image IS DISTINCT FROM EXCLUDED.image OR triggers.settings IS DISTINCT FROM EXCLUDED.settings)`,
      [trigger.name, trigger.image, JSON.stringify(trigger.settings), trigger.key, trigger.builtin],
    );
  }

  /** Deletes a trigger unless subscribed; returns the subscribing pipelines when it is. */
  async delete(name: string): Promise<{ deleted: boolean; subscribers: TriggerSubscriptionEntity[] }> {
    return this.db.transaction(async (manager) => {
      // Locked, so an apply storing a subscription to it (which share-locks it) waits or is waited for.
      await manager.query(`SELECT 1 FROM triggers WHERE name = $1 FOR UPDATE`, [name]);
      const subscribers = await manager.find(TriggerSubscriptionEntity, { where: { triggerName: name }, order: { namespaceId: 'ASC', pipelineId: 'ASC' } });
      if (subscribers.length > 0) return { deleted: false, subscribers };
      const result = await manager.delete(TriggerEntity, { name });
      return { deleted: (result.affected ?? 0) > 0, subscribers };
    });
  }

  /** Records what the supervisor holding lease `fence` saw; nothing if it no longer holds it. */
  async observe(name: string, generation: number, fence: LeaseFence, seen: TriggerObservation): Promise<boolean> {
    // Wrapped in a SELECT: TypeORM answers a bare UPDATE with [rows, count] instead of the rows.
    const [row] = await this.db.query<Array<{ updated: number }>>(
      `WITH updated AS (UPDATE triggers SET state = $3, container_id = $4, address = $5, instance_id = COALESCE($6, instance_id),
         description = COALESCE($7, description), settings_doc = COALESCE($8, settings_doc), restarts = $9,
         last_error = $10, updated = now()
       WHERE name = $1 AND generation = $2
         AND EXISTS (SELECT 1 FROM leases WHERE duty = $11 AND holder = $12 AND token = $13 AND expires > now())
       RETURNING 1)
       SELECT count(*)::int AS updated FROM updated`,
      [name, generation, seen.state, seen.containerId, seen.address, seen.instanceId ?? null, seen.description ?? null,
        seen.settingsDoc ? JSON.stringify(seen.settingsDoc) : null, seen.restarts, seen.lastError,
        fence.duty, fence.holder, fence.token],
    );
    return (row?.updated ?? 0) > 0;
  }

  /** Every subscription of a trigger. */
  async subscriptionsOf(triggerName: string): Promise<TriggerSubscriptionEntity[]> {
    return this.db.manager.find(TriggerSubscriptionEntity, { where: { triggerName }, order: { namespaceId: 'ASC', pipelineId: 'ASC', label: 'ASC' } });
  }

  /** Subscriptions of a trigger whose pipelines are enabled: the ones its container must hold. */
  async activeSubscriptionsOf(triggerName: string): Promise<TriggerSubscriptionEntity[]> {
    return this.db.manager
      .createQueryBuilder(TriggerSubscriptionEntity, 's')
      .innerJoin('pipelines', 'p', 'p.namespace_id = s.namespace_id AND p.id = s.pipeline_id')
      .where('s.trigger_name = :triggerName AND p.state = :enabled', { triggerName, enabled: 'enabled' })
      .orderBy('s.namespace_id').addOrderBy('s.pipeline_id').addOrderBy('s.label')
      .getMany();
  }

  /** A pipeline's subscriptions. */
  async subscriptionsOfPipeline(namespaceId: string, pipelineId: string, m: EntityManager = this.db.manager): Promise<TriggerSubscriptionEntity[]> {
    return m.find(TriggerSubscriptionEntity, { where: { namespaceId, pipelineId }, order: { label: 'ASC' } });
  }

  /** Every subscription of a namespace's pipelines. */
  async subscriptionsOfNamespace(namespaceId: string): Promise<TriggerSubscriptionEntity[]> {
    return this.db.manager.find(TriggerSubscriptionEntity, { where: { namespaceId }, order: { pipelineId: 'ASC', label: 'ASC' } });
  }

  /** One subscription. */
  async subscription(namespaceId: string, pipelineId: string, label: string): Promise<TriggerSubscriptionEntity | null> {
    return this.db.manager.findOneBy(TriggerSubscriptionEntity, { namespaceId, pipelineId, label });
  }

  /**
   * Makes a pipeline's subscriptions exactly `wanted`, inside the transaction that stores its config:
   * new ones are created, changed ones updated (keeping their checkpoint unless the trigger changed),
   * missing ones deleted.
   */
  async replacePipelineSubscriptions(
    m: EntityManager,
    namespaceId: string,
    pipelineId: string,
    wanted: { label: string; triggerName: string; settings: Record<string, string> }[],
  ): Promise<void> {
    const manager = m;
    const labels = wanted.map((w) => w.label);
    // Share-locks the triggers named, so an uninstall cannot delete one between this check and the insert.
    const names = [...new Set(wanted.map((w) => w.triggerName))];
    if (names.length > 0) {
      const locked = await manager.query<Array<{ name: string }>>(`SELECT name FROM triggers WHERE name = ANY($1) FOR SHARE`, [names]);
      const missing = names.filter((n) => !locked.some((row) => row.name === n));
      if (missing.length > 0) throw new TriggerNotInstalledError(missing);
    }
    await manager
      .createQueryBuilder()
      .delete()
      .from(TriggerSubscriptionEntity)
      .where('namespace_id = :namespaceId AND pipeline_id = :pipelineId', { namespaceId, pipelineId })
      .andWhere(labels.length > 0 ? 'label NOT IN (:...labels)' : 'true', { labels })
      .execute();
    for (const w of wanted) {
      await manager.query(
        `INSERT INTO trigger_subscriptions (namespace_id, pipeline_id, label, trigger_name, settings, created)
         VALUES ($1, $2, $3, $4, $5, now())
         ON CONFLICT (namespace_id, pipeline_id, label) DO UPDATE SET settings = EXCLUDED.settings,
           trigger_name = EXCLUDED.trigger_name,
           checkpoint = CASE WHEN trigger_subscriptions.trigger_name = EXCLUDED.trigger_name THEN trigger_subscriptions.checkpoint ELSE '' END`,
        [namespaceId, pipelineId, w.label, w.triggerName, JSON.stringify(w.settings)],
      );
    }
  }

  /** Records an accepted event on its subscription and trigger. */
  async recordEvent(namespaceId: string, pipelineId: string, label: string, triggerName: string, idempotencyKey: string, checkpoint: string | undefined): Promise<void> {
    await this.db.query(
      `UPDATE trigger_subscriptions SET last_event = now(), last_event_key = $4,
         checkpoint = CASE WHEN $5::text IS NULL OR $5 = '' THEN checkpoint ELSE $5 END
       WHERE namespace_id = $1 AND pipeline_id = $2 AND label = $3`,
      [namespaceId, pipelineId, label, idempotencyKey, checkpoint ?? null],
    );
    await this.db.query(`UPDATE triggers SET last_event = now() WHERE name = $1`, [triggerName]);
  }
}

/** Proof of holding a duty's lease: writes made under it check it is still current. */
export interface LeaseFence {
  duty: string;
  holder: string;
  token: number;
}

/** A subscription names a trigger uninstalled while its config was being stored. */
export class TriggerNotInstalledError extends Error {
  override readonly name = 'TriggerNotInstalledError';

  constructor(readonly triggers: string[]) {
    super(`trigger${triggers.length > 1 ? 's' : ''} ${triggers.map((t) => `"${t}"`).join(', ')} ${triggers.length > 1 ? 'were' : 'was'} uninstalled while the config was being stored`);
  }
}
