// The stand-in's state: jobs, evaluations and allocations in Nomad's JSON shapes, one Raft-like index
// that every write advances, and the wake-ups blocking queries wait on.

/** A JSON object as Nomad sends it: PascalCase fields, nanosecond times. */
export type NomadObject = Record<string, any>;

export class StandInState {
  /** Nomad's indexes start above 0; blocking clients treat 0 as "no index yet". */
  private index = 10;
  readonly jobs = new Map<string, NomadObject>(); // `${namespace}/${id}`
  readonly evals = new Map<string, NomadObject>();
  readonly allocs = new Map<string, NomadObject>();
  private waiters = new Set<() => void>();

  get lastIndex(): number {
    return this.index;
  }

  /** Advances the index, stamps `ModifyIndex`/`ModifyTime` on `objects`, and wakes blocking queries. */
  write(...objects: NomadObject[]): number {
    this.index += 1;
    const now = nowNs();
    for (const object of objects) {
      object.ModifyIndex = this.index;
      if ('ModifyTime' in object) object.ModifyTime = now;
      if ('AllocModifyIndex' in object) object.AllocModifyIndex = this.index;
    }
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const wake of waiters) wake();
    return this.index;
  }

  /** Resolves at the next write, or after `ms`, or when `signal` fires. */
  nextWrite(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

/** Unix time in nanoseconds, as Nomad's `Time`, `CreateTime` and `ModifyTime` fields carry it. */
export function nowNs(): number {
  // A float: precise to the microsecond, which is what JSON numbers can carry anyway.
  return Date.now() * 1e6 + (Number(process.hrtime.bigint() % 1_000_000n));
}
