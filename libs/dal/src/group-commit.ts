/**
 * Group commit: items submitted while earlier batches are in flight go together into the next batch, so
 * an idle engine sends an item at once (no added latency) and a busy one sends many per round trip. On a
 * loopback connection the round trip (a socket write and a wake-up of both processes) costs more than
 * most statements, so under load this is what keeps the per-task cost down.
 *
 * With `keysOf`, batches in flight at the same time never share a key (the rows a batch locks, say):
 * an item whose key is busy waits for the next batch instead of making a whole batch wait on a lock.
 *
 * A batch that fails is retried one item at a time, so one bad item cannot fail the others.
 */
export class GroupCommit<I, R> {
  private waiting: Array<Entry<I, R>> = [];
  private inFlight = 0;
  /** Keys of the batches in flight. */
  private readonly busy = new Set<string>();

  /**
   * @param batch sends several items at once; returns one result per item, in order.
   * @param options.maxBatch the most items in one batch.
   * @param options.maxInFlight batches in flight at once (each holds a connection while it runs).
   * @param options.keysOf what an item's batch holds while it runs (no two batches in flight share one).
   */
  constructor(
    private readonly batch: (items: readonly I[]) => Promise<R[]>,
    private readonly options: { maxBatch: number; maxInFlight: number; keysOf?: (item: I) => readonly string[] },
  ) {}

  submit(item: I): Promise<R> {
    return new Promise((done, fail) => {
      this.waiting.push({ item, keys: this.options.keysOf?.(item) ?? [], done, fail });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.waiting.length > 0) {
      const entries: Array<Entry<I, R>> = [];
      const later: Array<Entry<I, R>> = [];
      for (const entry of this.waiting) {
        if (entries.length < this.options.maxBatch && !entry.keys.some((key) => this.busy.has(key))) entries.push(entry);
        else later.push(entry);
      }
      if (entries.length === 0) return; // everything waiting needs a batch in flight to end first
      this.waiting = later;
      const keys = new Set(entries.flatMap((entry) => entry.keys));
      for (const key of keys) this.busy.add(key);
      this.inFlight += 1;
      void this.send(entries).finally(() => {
        for (const key of keys) this.busy.delete(key);
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  private async send(entries: ReadonlyArray<Entry<I, R>>): Promise<void> {
    try {
      const results = await this.run(entries.map((entry) => entry.item));
      entries.forEach((entry, index) => entry.done(results[index]!));
    } catch (error) {
      if (entries.length === 1) return entries[0]!.fail(error);
      for (const entry of entries) {
        await this.run([entry.item]).then((results) => entry.done(results[0]!), entry.fail);
      }
    }
  }

  /** The batch function, with a synchronous throw or a missing result turned into a rejection. */
  private async run(items: readonly I[]): Promise<R[]> {
    const results = await this.batch(items);
    if (results.length !== items.length) throw new Error(`a batch of ${items.length} gave ${results.length} results`);
    return results;
  }
}

interface Entry<I, R> {
  item: I;
  keys: readonly string[];
  done: (result: R) => void;
  fail: (error: unknown) => void;
}
