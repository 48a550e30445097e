import { Inject, Injectable } from '@nestjs/common';
import { LATENCY_BUCKETS, METRICS_REGISTRY } from '@gofer/config';
import { Counter, Histogram, type Registry } from 'prom-client';
import { ObjectStoreError } from './object-store.error.js';
import type { ObjectStore } from './object-store.js';

/** The object store operations measured (the `operation` label): a fixed set. */
export type ObjectStoreOperation = 'put' | 'get' | 'head' | 'delete' | 'delete_prefix' | 'ping';

/** Object store metrics: latency and infrastructure errors of each backend operation. */
@Injectable()
export class ObjectStoreMetrics {
  readonly duration: Histogram<'operation'>;
  readonly errors: Counter<'operation'>;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry) {
    this.duration = new Histogram({
      name: 'gofer_object_store_operation_duration_seconds',
      help: 'Object store (S3 or directory) operation latency, by operation; for get, until the content starts to stream.',
      labelNames: ['operation'] as const, buckets: LATENCY_BUCKETS, registers: [registry],
    });
    this.errors = new Counter({
      name: 'gofer_object_store_errors_total',
      help: 'Object store operations that failed in the backend (unreachable, denied, backend errors), by operation.',
      labelNames: ['operation'] as const, registers: [registry],
    });
  }

  /** `store`, with every backend call timed and its infrastructure failures counted. */
  wrap(store: ObjectStore): ObjectStore {
    const time = async <T>(operation: ObjectStoreOperation, call: () => Promise<T>): Promise<T> => {
      const end = this.duration.startTimer({ operation });
      try {
        return await call();
      } catch (error) {
        if (isInfrastructureError(error)) this.errors.inc({ operation });
        throw error;
      } finally {
        end();
      }
    };
    return {
      put: (key, body, options) => time('put', () => store.put(key, body, options)),
      get: (key, options) => time('get', () => store.get(key, options)),
      head: (key) => time('head', () => store.head(key)),
      delete: (key) => time('delete', () => store.delete(key)),
      deletePrefix: (prefix) => time('delete_prefix', () => store.deletePrefix(prefix)),
      ping: () => time('ping', () => store.ping()),
      describe: () => store.describe(),
      close: () => store.close(),
    };
  }
}

/**
 * Whether a failure is the store's fault: an object over its size limit, a malformed key, a failing
 * upload body or a cancelled request are the caller's, and would only add noise to an alert.
 */
function isInfrastructureError(error: unknown): boolean {
  return error instanceof ObjectStoreError && error.kind !== 'too_large' && error.kind !== 'invalid_key';
}
