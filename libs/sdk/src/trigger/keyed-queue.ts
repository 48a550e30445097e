/**
 * Runs work one at a time per key, in the order it was queued; different keys run concurrently. The
 * trigger server queues Subscribe and Unsubscribe by subscription, so an Unsubscribe that arrives while
 * a slow Subscribe of the same subscription runs ends that subscription instead of racing past it.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `work` once every earlier `run` for `key` has settled; settles as `work` does. */
  run<T>(key: string, work: () => T | Promise<T>): Promise<T> {
    const result = (this.tails.get(key) ?? Promise.resolve()).then(work);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    // Forget idle keys, or the map would grow with every subscription ever seen.
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** How many keys have work queued or running. */
  get size(): number {
    return this.tails.size;
  }
}
