import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ObjectStoreError } from './object-store.error.js';
import { ObjectStoreMetrics } from './object-store.metrics.js';
import type { ObjectStore } from './object-store.js';

/** A store whose put fails with `failure` (if any); the other calls succeed at once. */
function fakeStore(failure?: unknown): ObjectStore {
  return {
    put: async () => {
      if (failure) throw failure;
      return { size: 1 };
    },
    get: async () => undefined,
    head: async () => ({ size: 1 }),
    delete: async () => {},
    deletePrefix: async () => 2,
    ping: async () => {},
    describe: () => 'fake',
    close: async () => {},
  };
}

async function sample(registry: Registry, name: string, operation: string): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name)!;
  const values = metric.values as Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>;
  return values.find((v) => v.labels.operation === operation && (v.metricName ?? name) === (name.endsWith('_total') ? name : `${name}_count`))?.value ?? 0;
}

describe('ObjectStoreMetrics.wrap', () => {
  const body = (async function* () {})();

  it('times each operation and passes results through', async () => {
    const registry = new Registry();
    const store = new ObjectStoreMetrics(registry).wrap(fakeStore());
    expect(await store.put('k', body)).toEqual({ size: 1 });
    expect(await store.deletePrefix('p/')).toBe(2);
    expect(store.describe()).toBe('fake');
    expect(await sample(registry, 'gofer_object_store_operation_duration_seconds', 'put')).toBe(1);
    expect(await sample(registry, 'gofer_object_store_operation_duration_seconds', 'delete_prefix')).toBe(1);
  });

  it('counts backend failures as errors, but not the caller\'s (too large, bad key, a failing body)', async () => {
    const registry = new Registry();
    const metrics = new ObjectStoreMetrics(registry);
    const failures = [
      new ObjectStoreError('unreachable', 'down'), new ObjectStoreError('too_large', 'big'),
      new ObjectStoreError('invalid_key', 'bad'), new Error('body failed'),
    ];
    for (const failure of failures) await expect(metrics.wrap(fakeStore(failure)).put('k', body)).rejects.toBe(failure);
    expect(await sample(registry, 'gofer_object_store_errors_total', 'put')).toBe(1);
    expect(await sample(registry, 'gofer_object_store_operation_duration_seconds', 'put')).toBe(4);
  });
});
