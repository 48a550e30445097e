// A Scheduler that runs nothing: every container "starts" at once and "exits 0" at once. With it the
// worker does all of its Postgres, Redis and queue work but no engine work, so the benchmark measures
// the control plane's own ceiling. Implements `Scheduler` of libs/scheduler/src/scheduler.ts.

const OUTPUT = Buffer.from('ok\n');

/** @returns {import('@gofer/scheduler').Scheduler} */
export function createNoopScheduler() {
  let next = 0;
  return {
    kind: 'noop',
    async ping() {},
    async start(spec) {
      next += 1;
      return { id: `noop-${next}`, name: spec.name, adopted: false };
    },
    async wait() {
      return { exitCode: 0 };
    },
    // One small chunk, so the log path (Redis stream, archive) is exercised as for a real task.
    async *logs() {
      yield { stream: 'stdout', data: OUTPUT };
    },
    async stop() {},
    async remove() {},
    async inspect() {
      return undefined;
    },
    async list() {
      return [];
    },
  };
}
