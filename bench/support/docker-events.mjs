// Container lifecycle times from Docker's own event stream: the daemon stamps each event (`timeNano`)
// when it happens, so a container's create and start are timed the same way whoever asked for them.
import { setTimeout as sleep } from 'node:timers/promises';
import { docker } from './cluster.mjs';

/**
 * The wall clock in milliseconds with sub-millisecond resolution, comparable with Docker's `timeNano`
 * and Postgres's `now()` on this machine. `Date.now()` only has whole milliseconds, so the monotonic
 * clock is anchored to it once, at the moment `Date.now()` ticks.
 */
export function wallClock() {
  const start = Date.now();
  let tick;
  let at;
  do {
    at = performance.now();
    tick = Date.now();
  } while (tick === start);
  return () => tick + (performance.now() - at);
}

/**
 * Watches container events of the containers carrying all of `labels` and keeps, per key
 * (`keyOf(event)`), the time of each action (ms since the epoch, Docker's clock) and the container id.
 * `until` waits, bounded, for an action of a key, whether it has happened already or not.
 */
export class ContainerEvents {
  /** @type {Map<string, { id: string, times: Record<string, number> }>} */
  records = new Map();
  #waiters = new Set();
  #stream;

  /**
   * @param {Record<string, string>} labels
   * @param {(event: { Actor: { ID: string, Attributes: Record<string, string> } }) => string | undefined} keyOf
   * @param {string[]} actions e.g. ['create', 'start', 'destroy']
   */
  static async watch(labels, keyOf, actions) {
    const watcher = new ContainerEvents();
    watcher.#stream = await docker.getEvents({
      filters: { type: ['container'], event: actions, label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) },
    });
    let buffer = '';
    watcher.#stream.on('data', (chunk) => {
      buffer += chunk.toString();
      let newline;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (line.trim()) watcher.#record(JSON.parse(line), keyOf);
      }
    });
    watcher.#stream.on('error', () => undefined);
    return watcher;
  }

  #record(event, keyOf) {
    const key = keyOf(event);
    if (key === undefined) return;
    const record = this.records.get(key) ?? { id: event.Actor.ID, times: {} };
    // A number near 1.8e18 keeps 256 ns in a double: plenty for milliseconds.
    record.times[event.Action ?? event.status] ??= Number(event.timeNano) / 1e6;
    this.records.set(key, record);
    for (const waiter of this.#waiters) waiter();
  }

  /** The record of `key` once it has `action`; throws after `timeoutMs`. */
  async until(key, action, timeoutMs = 30_000) {
    const has = () => this.records.get(key)?.times[action] !== undefined;
    if (!has()) {
      let wake;
      const woken = () => wake?.();
      this.#waiters.add(woken);
      try {
        const deadline = Date.now() + timeoutMs;
        while (!has()) {
          const left = deadline - Date.now();
          if (left <= 0) throw new Error(`no Docker "${action}" event for ${key} within ${timeoutMs} ms`);
          const controller = new AbortController();
          await Promise.race([new Promise((resolve) => (wake = resolve)), sleep(left, undefined, { signal: controller.signal }).catch(() => undefined)]);
          controller.abort();
        }
      } finally {
        this.#waiters.delete(woken);
      }
    }
    return this.records.get(key);
  }

  stop() {
    this.#stream?.destroy?.();
  }
}
