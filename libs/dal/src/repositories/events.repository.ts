import { Inject, Injectable } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import { DATA_SOURCE } from '../dal.tokens.js';
import { EventEntity } from '../entities/event.entity.js';
import { literal } from '../statement.js';

/** A state change to record. Never put a secret value or an object's content in `details`. */
export interface NewEvent {
  kind: string;
  namespaceId?: string;
  pipelineId?: string;
  runId?: number;
  taskId?: string;
  details?: Record<string, unknown>;
}

/** The `events` table: an append-only log, read in id order. */
@Injectable()
export class EventsRepository {
  constructor(@Inject(DATA_SOURCE) private readonly db: DataSource) {}

  /** Inserts an event inside the caller's transaction. */
  async insert(m: EntityManager, event: NewEvent): Promise<void> {
    await m.query(eventSql(event));
  }

  /** Events after `afterId` in id order, of one namespace when `namespaceId` is given. */
  async listAfter(afterId: number, namespaceId: string | undefined, limit: number): Promise<EventEntity[]> {
    return this.db.manager
      .createQueryBuilder(EventEntity, 'e')
      .where('e.id > :after', { after: afterId })
      .andWhere(namespaceId !== undefined ? 'e.namespace_id = :ns' : 'TRUE', { ns: namespaceId })
      .orderBy('e.id', 'ASC')
      .limit(limit)
      .getMany();
  }

  /** Up to `limit` events with ids below `beforeId` and above `afterId`, newest first. */
  async listBefore(beforeId: number, afterId: number, limit: number): Promise<EventEntity[]> {
    return this.db.manager
      .createQueryBuilder(EventEntity, 'e')
      .where('e.id < :before AND e.id > :after', { before: beforeId, after: afterId })
      .orderBy('e.id', 'DESC')
      .limit(limit)
      .getMany();
  }

  /** The newest event's id, 0 when there is none. */
  async latestId(): Promise<number> {
    const [row] = (await this.db.manager.query('SELECT COALESCE(max(id), 0) AS id FROM events')) as Array<{ id: string | number }>;
    return Number(row?.id ?? 0);
  }

  /**
   * Where a read of the newest `count` events after `afterId` (of one namespace when given) starts: just
   * before the `count`-th newest, or `afterId` when there are no more than `count`.
   */
  async startOfLast(count: number, afterId: number, namespaceId: string | undefined): Promise<number> {
    const [row] = (await this.db.manager.query(
      `SELECT id FROM events WHERE id > $1 AND ($2::text IS NULL OR namespace_id = $2) ORDER BY id DESC OFFSET $3 LIMIT 1`,
      [afterId, namespaceId ?? null, count - 1],
    )) as Array<{ id: string | number }>;
    return row ? Number(row.id) - 1 : afterId;
  }

  /** Deletes up to 10 000 of the events older than `seconds`; returns how many. */
  async deleteOlderThan(seconds: number): Promise<number> {
    const result = await this.db.manager.query(
      `WITH old AS (SELECT id FROM events WHERE emitted < now() - make_interval(secs => $1) ORDER BY id LIMIT 10000)
       DELETE FROM events WHERE id IN (SELECT id FROM old)`,
      [seconds],
    );
    return (result as [unknown, number])[1] ?? 0;
  }
}

/** An event's INSERT with its values inlined, to travel with a transaction's other statements. */
export function eventSql(event: NewEvent): string {
  return `INSERT INTO events (kind, namespace_id, pipeline_id, run_id, task_id, details)
          VALUES (${literal(event.kind)}, ${literal(event.namespaceId ?? '')}, ${literal(event.pipelineId ?? '')},
                  ${literal(event.runId ?? 0)}, ${literal(event.taskId ?? '')}, ${literal(JSON.stringify(event.details ?? {}))}::jsonb)`;
}
