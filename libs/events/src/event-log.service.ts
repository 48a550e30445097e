import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable } from '@nestjs/common';
import { GOFER_CONFIG, type GoferConfig } from '@gofer/config';
import { EventsRepository, type EntityManager, type EventEntity, type NewEvent } from '@gofer/dal';

export type { NewEvent } from '@gofer/dal';

/** Which events a reader may see: every namespace (management) or those `visible` accepts. */
export interface EventFilter {
  namespaceId?: string;
  visible: (namespaceId: string) => boolean;
  /** Events outside namespaces (tokens, global secrets) are for management tokens only. */
  global: boolean;
}

const PAGE = 500;
const POLL_MS = 250;
/**
 * Ids are taken when a transaction inserts, not when it commits, so a follower can see id 12 before
 * id 11 commits. It waits this long for a missing id before deciding it was rolled back.
 */
const GAP_WAIT_MS = 2000;

/**
 * The event log: every state change is inserted in the transaction that makes it, so an event exists
 * exactly when its change committed. Followers poll (any API process can serve them); old events are
 * pruned after GOFER_EVENT_RETENTION.
 */
@Injectable()
export class EventLog {
  constructor(
    private readonly events: EventsRepository,
    @Inject(GOFER_CONFIG) private readonly config: GoferConfig,
  ) {}

  /** Records an event inside the caller's transaction. */
  async append(m: EntityManager, event: NewEvent): Promise<void> {
    await this.events.insert(m, event);
  }

  async list(afterId: number, filter: EventFilter, limit = PAGE): Promise<EventEntity[]> {
    return this.events.listAfter(afterId, filter.namespaceId, limit);
  }

  /** The newest event's id (0 when there is none): where a follow of only new events starts. */
  latestId(): Promise<number> {
    return this.events.latestId();
  }

  /**
   * Where a read of the newest `count` events after `afterId` that `filter` lets through starts. One
   * statement when the filter is a namespace or everything; otherwise (a client token reading every
   * namespace it may see) the log is walked back a page at a time, as `follow` would filter it.
   */
  async startOfLast(count: number, afterId: number, filter: EventFilter): Promise<number> {
    if (filter.namespaceId !== undefined || filter.global) return this.events.startOfLast(count, afterId, filter.namespaceId);
    let before = (await this.events.latestId()) + 1;
    let seen = 0;
    for (;;) {
      const rows = await this.events.listBefore(before, afterId, PAGE);
      for (const row of rows) {
        if (row.namespaceId !== '' && filter.visible(row.namespaceId) && ++seen === count) return Number(row.id) - 1;
      }
      if (rows.length < PAGE) return afterId;
      before = Number(rows.at(-1)!.id);
    }
  }

  /** Events after `afterId` in id order, then new ones as they commit, until the signal aborts. */
  async *follow(afterId: number, filter: EventFilter, options: { follow: boolean; signal: AbortSignal }): AsyncGenerator<EventEntity> {
    let last = afterId;
    let gapSince: number | undefined;
    while (!options.signal.aborted) {
      const rows = await this.list(last, { ...filter, namespaceId: undefined }, PAGE);
      let progressed = false;
      for (const row of rows) {
        const id = Number(row.id);
        // Reading from the very start, the first id is wherever pruning left off; any other gap may be a
        // transaction that has not committed yet — including right after a resumed `afterId`.
        if (options.follow && id !== last + 1 && !(last === 0 && afterId === 0)) {
          gapSince ??= Date.now();
          if (Date.now() - gapSince < GAP_WAIT_MS) break; // an earlier transaction may still commit
        }
        gapSince = undefined;
        last = id;
        progressed = true;
        if (filter.namespaceId !== undefined && row.namespaceId !== filter.namespaceId) continue;
        if (row.namespaceId === '' ? !filter.global : !filter.visible(row.namespaceId)) continue;
        yield row;
      }
      if (!options.follow && rows.length < PAGE) return;
      if (!progressed || rows.length < PAGE) await sleep(POLL_MS, undefined, { signal: options.signal }).catch(() => undefined);
    }
  }

  /** Deletes events older than the retention; returns how many. */
  async prune(): Promise<number> {
    return this.events.deleteOlderThan(this.config.eventRetentionMs / 1000);
  }
}
