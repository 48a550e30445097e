import { redactUrl, type GoferConfig } from '@gofer/config';
import { openDataSource, PostgresMetrics, type DataSource } from '@gofer/dal';
import { TaskLogs, type LogArchive } from '@gofer/logs';
import { createObjectStore, type ObjectStore } from '@gofer/object-store';
import { EncryptionKeyError, Keyring } from '@gofer/secrets';
import { createScheduler, type Scheduler } from '@gofer/scheduler';
import { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { createMetricsRegistry } from './metrics-registry.js';
import { RedisMetrics } from './redis.metrics.js';

/** The connections a Gofer process holds; opened once at startup, closed on shutdown. */
export interface Infrastructure {
  db: DataSource;
  redis: Redis;
  scheduler: Scheduler | undefined;
  logs: TaskLogs;
  objects: ObjectStore;
  /** The registry `/metrics` serves; the connections' metrics are on it from the start. */
  metrics: Registry;
  close(): Promise<void>;
}

/** A dependency is missing or misconfigured: the message says which, where Gofer looked, and the fix. */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

/**
 * Probes each connection after this much silence (every duplicate inherits it): a Redis that vanished
 * without closing the connection (a black-holed route) is noticed within about 20 s (Node has the
 * kernel probe each second, ten times), even by a connection blocked in BZPOPMIN or XREAD BLOCK.
 * ioredis' default probes only after the kernel's default of two hours.
 */
const REDIS_KEEPALIVE_MS = 10_000;

/** The shared Redis connection; with `metrics`, it and every connection duplicated from it are measured. */
export async function connectRedis(url: string, metrics?: RedisMetrics): Promise<Redis> {
  // maxRetriesPerRequest: null is what BullMQ requires; startup gets its own bounded check below.
  const options = { maxRetriesPerRequest: null, lazyConnect: true, connectTimeout: 5000, keepAlive: REDIS_KEEPALIVE_MS, retryStrategy: (n: number) => Math.min(n * 200, 2000) };
  const created = new Redis(url, options);
  const redis = metrics ? metrics.instrument(created) : created;
  redis.on('error', () => undefined); // reported through failed commands; ioredis reconnects by itself
  try {
    await Promise.race([
      redis.connect().then(() => redis.ping()),
      new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 5s')), 5000)),
    ]);
  } catch (error) {
    redis.disconnect();
    throw new StartupError(
      `cannot reach Redis at ${redactUrl(url)}: ${(error as Error).message}. Is it running? Set GOFER_REDIS_URL to redis://HOST:PORT.`,
    );
  }
  // BullMQ keeps jobs as ordinary keys: an evicting Redis would silently drop queued work.
  let policy: string | undefined;
  try {
    const reply = (await redis.call('CONFIG', 'GET', 'maxmemory-policy')) as string[];
    policy = reply[1];
  } catch {
    policy = undefined; // CONFIG is disabled on some managed Redis services; nothing to check then
  }
  if (policy !== undefined && policy !== 'noeviction') {
    redis.disconnect();
    throw new StartupError(
      `Redis at ${redactUrl(url)} has maxmemory-policy "${policy}"; Gofer needs "noeviction" so queued work is never evicted. ` +
        'Run: redis-cli CONFIG SET maxmemory-policy noeviction (and set it in redis.conf).',
    );
  }
  return redis;
}

export async function openInfrastructure(
  config: GoferConfig,
  options: { scheduler: boolean; schedulerOverride?: Scheduler },
): Promise<Infrastructure> {
  const opened: Array<() => Promise<unknown>> = [];
  const closeAll = async () => {
    for (const close of opened.reverse()) await close().catch(() => undefined);
  };
  // The connections' metrics are registered first, so they cover startup and migrations.
  const metrics = createMetricsRegistry();
  try {
    const db = await openDataSource(config.databaseUrl, {
      statementTimeoutMs: config.databaseStatementTimeoutMs, metrics: new PostgresMetrics(metrics),
    }).catch((error: Error) => {
      throw new StartupError(error.message);
    });
    opened.push(() => db.destroy());
    const redis = await connectRedis(config.redisUrl, new RedisMetrics(metrics));
    opened.push(() => redis.quit());
    let scheduler: Scheduler | undefined;
    if (options.scheduler && options.schedulerOverride) {
      scheduler = options.schedulerOverride;
    } else if (options.scheduler) {
      try {
        scheduler = createScheduler(config);
        await scheduler.ping();
      } catch (error) {
        // The scheduler's message names the engine, where Gofer looked and the variable to set.
        throw new StartupError((error as Error).message);
      }
    }
    if (config.encryptionKey) {
      try {
        Keyring.parse(config.encryptionKey, config.previousEncryptionKeys);
      } catch (error) {
        if (error instanceof EncryptionKeyError) throw new StartupError(error.message);
        throw error;
      }
    }
    let objects: ObjectStore;
    try {
      objects = createObjectStore(config.objectStore, config.s3);
      await objects.ping();
    } catch (error) {
      throw new StartupError(
        `cannot use the object store GOFER_OBJECT_STORE=${config.objectStore}: ${(error as Error).message}`,
      );
    }
    opened.push(() => objects.close());
    // The logs get a connection of their own: BullMQ defines its Lua scripts (dozens) on the connection it
    // is given, and ioredis copies every defined script onto each MULTI made on that connection, which
    // made the log writer's one MULTI per attempt cost more CPU than its round trip to Redis.
    const logRedis = redis.duplicate();
    logRedis.on('error', () => undefined); // reported through failed commands; ioredis reconnects by itself
    opened.push(() => logRedis.quit());
    await logRedis.connect();
    const logs = new TaskLogs(logRedis, logArchive(objects), config.redisPrefix, config.logCapBytes);
    return { db, redis, scheduler, logs, objects, metrics, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** Finished task logs are objects like any other (under logs/…). */
function logArchive(store: ObjectStore): LogArchive {
  return {
    put: async (key, body) => (await store.put(key, body)).size,
    get: async (key) => (await store.get(key))?.body,
    delete: (key) => store.delete(key),
  };
}
