import { Inject, Injectable } from '@nestjs/common';
import { In, type DataSource, type EntityManager } from 'typeorm';
import type { NotificationKey } from '@gofer/queue';
import { DATA_SOURCE } from '../dal.tokens.js';
import { RunNotificationEntity, type NotificationStatus } from '../entities/run-notification.entity.js';
import { literal } from '../statement.js';

/**
 * The notification rows of a completed run, one per `notifiers[]` entry of its config, for the
 * transaction that completes it (they travel with its COMMIT). A row already there is kept.
 */
export function insertRunNotificationsSql(
  run: { namespaceId: string; pipelineId: string; id: number },
  notifiers: ReadonlyArray<{ label: string; notifier: string }>,
): string {
  const rows = notifiers.map(
    (n) => `(${literal(run.namespaceId)}, ${literal(run.pipelineId)}, ${literal(run.id)}, ${literal(n.label)}, ${literal(n.notifier)})`,
  );
  return `INSERT INTO run_notifications (namespace_id, pipeline_id, run_id, label, notifier)
           VALUES ${rows.join(', ')} ON CONFLICT DO NOTHING`;
}

/** What a worker learns when it claims (or adopts) a notification. */
export interface ClaimedNotification {
  notifier: string;
  started: Date | null;
  /** The container a previous worker recorded (adoption only). */
  containerId: string | null;
  /** The worker that had it before (adoption only). */
  previousWorkerId: string | null;
}

/** How a notification ended. */
export interface NotificationResult {
  status: NotificationStatus;
  exitCode: number | null;
  reason: string;
}

/** A notification as the reconciler sees it. */
export interface UnfinishedNotification {
  namespace_id: string;
  pipeline_id: string;
  run_id: number;
  label: string;
  state: 'pending' | 'running';
  worker_id: string | null;
}

// TypeORM answers an UPDATE with [rows, affected count]: the statements below destructure its rows.
const KEY = 'namespace_id = $1 AND pipeline_id = $2 AND run_id = $3 AND label = $4';

function keyValues(key: NotificationKey): unknown[] {
  return [key.namespaceId, key.pipelineId, key.runId, key.label];
}

/**
 * The `run_notifications` table. Every transition is a compare-and-set on the state and, once running,
 * on the worker that holds it (as task attempts are): a worker that lost it writes nothing.
 */
@Injectable()
export class RunNotificationsRepository {
  constructor(@Inject(DATA_SOURCE) private readonly db: DataSource) {}

  find(key: NotificationKey): Promise<RunNotificationEntity | null> {
    return this.db.manager.findOneBy(RunNotificationEntity, {
      namespaceId: key.namespaceId, pipelineId: key.pipelineId, runId: key.runId, label: key.label,
    });
  }

  /** The notifications of some runs of a pipeline, by run and label. */
  ofRuns(namespaceId: string, pipelineId: string, runIds: readonly number[]): Promise<RunNotificationEntity[]> {
    if (runIds.length === 0) return Promise.resolve([]);
    return this.db.manager.find(RunNotificationEntity, {
      where: { namespaceId, pipelineId, runId: In([...runIds]) },
      order: { runId: 'ASC', label: 'ASC' },
    });
  }

  /** `pending → running` for `workerId`; undefined if it was not pending. */
  async claim(key: NotificationKey, workerId: string): Promise<ClaimedNotification | undefined> {
    const [rows] = (await this.db.query(
      `UPDATE run_notifications SET state = 'running', worker_id = $5, started = now()
        WHERE ${KEY} AND state = 'pending'
        RETURNING notifier, started, container_id`,
      [...keyValues(key), workerId],
    )) as [Array<{ notifier: string; started: Date | null; container_id: string | null }>, number];
    const row = rows[0];
    return row && { notifier: row.notifier, started: row.started, containerId: row.container_id, previousWorkerId: null };
  }

  /**
   * Takes over a running notification that nobody owns (handed back), whose worker has been silent for
   * `ownerDeadAfterMs` (dead), or that is `workerId`'s own; undefined otherwise (not running, or a live
   * worker still holds it: its queue job moved on while it lost Redis, but it still watches the container).
   */
  async adopt(key: NotificationKey, workerId: string, ownerDeadAfterMs: number): Promise<ClaimedNotification | undefined> {
    const [rows] = (await this.db.query(
      `UPDATE run_notifications n SET worker_id = $5 FROM run_notifications old
        WHERE n.namespace_id = $1 AND n.pipeline_id = $2 AND n.run_id = $3 AND n.label = $4 AND n.state = 'running'
          AND old.namespace_id = n.namespace_id AND old.pipeline_id = n.pipeline_id AND old.run_id = n.run_id AND old.label = n.label
          AND (n.worker_id IS NULL OR n.worker_id = $5 OR NOT EXISTS (
                SELECT 1 FROM workers w WHERE w.id = n.worker_id AND w.last_seen >= now() - make_interval(secs => $6)))
        RETURNING n.notifier, n.started, n.container_id, old.worker_id AS previous_worker`,
      [...keyValues(key), workerId, ownerDeadAfterMs / 1000],
    )) as [Array<{ notifier: string; started: Date | null; container_id: string | null; previous_worker: string | null }>, number];
    const row = rows[0];
    return row && { notifier: row.notifier, started: row.started, containerId: row.container_id, previousWorkerId: row.previous_worker };
  }

  /** Hands a running notification of `workerId` back, so another worker adopts it at once; false if it was not theirs. */
  async release(key: NotificationKey, workerId: string): Promise<boolean> {
    const [rows] = (await this.db.query(
      `UPDATE run_notifications SET worker_id = NULL WHERE ${KEY} AND state = 'running' AND worker_id = $5 RETURNING label`,
      [...keyValues(key), workerId],
    )) as [unknown[], number];
    return rows.length > 0;
  }

  /** Records its container's id; false if `workerId` no longer holds it. */
  async recordContainer(key: NotificationKey, workerId: string, containerId: string): Promise<boolean> {
    const [rows] = (await this.db.query(
      `UPDATE run_notifications SET container_id = $6 WHERE ${KEY} AND state = 'running' AND worker_id = $5 RETURNING label`,
      [...keyValues(key), workerId, containerId],
    )) as [unknown[], number];
    return rows.length > 0;
  }

  /**
   * `running → complete` for the worker holding it; the row as completed, or undefined if `workerId`
   * no longer held it (nothing written). Runs in the caller's transaction `m`.
   */
  async complete(
    m: EntityManager,
    key: NotificationKey,
    workerId: string,
    result: NotificationResult,
  ): Promise<RunNotificationEntity | undefined> {
    const [rows] = (await m.query(
      `UPDATE run_notifications SET state = 'complete', status = $6, exit_code = $7, reason = $8, ended = now()
        WHERE ${KEY} AND state = 'running' AND worker_id = $5
        RETURNING label`,
      [...keyValues(key), workerId, result.status, result.exitCode, result.reason],
    )) as [unknown[], number];
    if (rows.length === 0) return undefined;
    return m.findOneByOrFail(RunNotificationEntity, {
      namespaceId: key.namespaceId, pipelineId: key.pipelineId, runId: key.runId, label: key.label,
    });
  }

  /**
   * Notifications that may have lost their queue job: pending ones, and running ones whose worker is
   * gone, silent for `deadAfterSeconds`, or `workerId` itself (the caller leaves out those it runs).
   */
  async maybeLost(deadAfterSeconds: number, workerId: string): Promise<UnfinishedNotification[]> {
    return this.db.query(
      `SELECT n.namespace_id, n.pipeline_id, n.run_id, n.label, n.state, n.worker_id
         FROM run_notifications n LEFT JOIN workers w ON w.id = n.worker_id
        WHERE n.state = 'pending'
           OR (n.state = 'running' AND (w.id IS NULL OR w.last_seen < now() - make_interval(secs => $1) OR n.worker_id = $2))
        LIMIT 10000`,
      [deadAfterSeconds, workerId],
    );
  }
}
