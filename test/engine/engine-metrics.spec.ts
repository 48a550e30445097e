import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { GoferConfig } from '@gofer/config';
import type { RunRepository, WorkersRepository } from '@gofer/dal';
import { EngineMetrics, type TaskQueue } from '@gofer/engine';

/**
 * The gauges EngineMetrics samples from Postgres and Redis at scrape time must not hold `/metrics`
 * up when those do not answer (libs/engine/src/engine.metrics.ts): Prometheus would drop the whole
 * scrape, the Postgres and Redis error counters with it. Stand-ins for the repositories and the queue
 * answer, fail or never answer on command.
 */
describe('EngineMetrics scrape-time samples', () => {
  type Mode = 'answer' | 'fail' | 'hang';
  function sources() {
    const state = { mode: 'answer' as Mode, asked: 0 };
    const sample = <T>(value: T) => () => {
      state.asked += 1;
      if (state.mode === 'fail') return Promise.reject(new Error('unreachable'));
      if (state.mode === 'hang') return new Promise<T>(() => undefined);
      return Promise.resolve(value);
    };
    const queue = { queue: { getJobCounts: sample({ waiting: 3, delayed: 0, active: 1, prioritized: 0 }) } } as unknown as TaskQueue;
    const runs = { pendingByReason: sample({ parallelism: 2, disabled: 0, admission: 0 }) } as unknown as RunRepository;
    const workers = { countAlive: sample(2) } as unknown as WorkersRepository;
    return { state, queue, runs, workers };
  }

  it('keeps the last samples when Postgres and Redis fail or stall, answers the scrape, and asks a stalled one once', async () => {
    const registry = new Registry();
    const { state, queue, runs, workers } = sources();
    new EngineMetrics(registry, queue, runs, workers, { workerDeadAfterMs: 10_000 } as GoferConfig);
    const expected = ['gofer_runs_pending{reason="parallelism"} 2', 'gofer_workers_alive 2', 'gofer_queue_jobs{state="waiting"} 3'];

    const answered = await registry.metrics();
    for (const line of expected) expect(answered).toContain(line);

    state.mode = 'fail';
    const failed = await registry.metrics();
    for (const line of expected) expect(failed).toContain(line);

    state.mode = 'hang';
    state.asked = 0;
    const stalled = await registry.metrics(); // answered once the samples' wait is over
    for (const line of expected) expect(stalled).toContain(line);
    expect(state.asked).toBe(3);
    await registry.metrics();
    expect(state.asked).toBe(3); // still in flight: not asked again
  });
});
