import { LATENCY_BUCKETS } from '@gofer/config';
import { Redis, type Command, type RedisOptions } from 'ioredis';
import { Counter, Histogram, type Registry } from 'prom-client';

/**
 * Commands the `command` label names (what BullMQ and the task logs send; BullMQ's work is all Lua
 * scripts, so `evalsha`); any other is `other`, so the label stays bounded whatever a library sends.
 */
const NAMED_COMMANDS = new Set([
  'evalsha', 'eval', 'multi', 'exec', 'xadd', 'xread', 'xrange', 'expire', 'del', 'get', 'set', 'hget', 'hgetall', 'exists',
  'zrange', 'ping', 'info', 'client',
]);
/**
 * Commands that wait for data by design: BullMQ's wait for a job (BZPOPMIN), a log follower's XREAD
 * BLOCK. Their time measures how idle the queue or the task is, not Redis, so they are not timed
 * (their failures still count).
 */
const BLOCKING_COMMANDS = new Set(['bzpopmin', 'bzpopmax', 'bzmpop', 'blpop', 'brpop', 'blmpop', 'brpoplpush', 'blmove']);

/**
 * What went wrong with Redis (the `kind` label of `gofer_redis_errors_total`): `connection`, a connection
 * failed or broke (ioredis reconnects by itself; every failed attempt counts), or `command`, a command
 * failed (an error reply, or a transaction cut by a broken connection).
 */
export const REDIS_ERROR_KINDS = ['connection', 'command'] as const;

/** Marks a command already timed: ioredis sends a command again after a reconnect or from its offline queue. */
const TIMED = Symbol('gofer.redis.timed');

function isBlocking(name: string, args: Command['args']): boolean {
  if (BLOCKING_COMMANDS.has(name)) return true;
  return (name === 'xread' || name === 'xreadgroup') && args.some((arg) => typeof arg === 'string' && arg.toUpperCase() === 'BLOCK');
}

/**
 * Redis metrics: the latency of every command a Gofer process sends and its failures, over every
 * connection it makes (the shared one, BullMQ's, the task logs' and each log follower's), all of which
 * are the shared connection or duplicates of it (see {@link RedisMetrics.instrument}).
 */
export class RedisMetrics {
  readonly duration: Histogram<'command'>;
  readonly errors: Counter<'kind'>;

  constructor(registry: Registry) {
    this.duration = new Histogram({
      name: 'gofer_redis_command_duration_seconds',
      help: 'Redis command latency, by command (or "other"), from issuing it to its reply, time queued while reconnecting included. Blocking reads (BZPOPMIN, XREAD BLOCK), which wait for work by design, are not timed.',
      labelNames: ['command'] as const, buckets: LATENCY_BUCKETS, registers: [registry],
    });
    this.errors = new Counter({
      name: 'gofer_redis_errors_total',
      help: 'Redis failures, by kind: connection (a connection failed or broke; each failed reconnection attempt counts), command (a command failed).',
      labelNames: ['kind'] as const, registers: [registry],
    });
    // Every kind is a series from the start: a rate over it is 0, not "no data", until one happens.
    for (const kind of REDIS_ERROR_KINDS) this.errors.inc({ kind }, 0);
  }

  /**
   * `redis`, with every command timed (one clock read and one observation each) and every failure
   * counted, and so is every connection duplicated from it: BullMQ's workers and their blocking
   * connections, and the log followers, are all duplicates. ioredis has no per-instance hook, so its
   * `sendCommand` and `duplicate` are wrapped on the instance.
   */
  instrument(redis: Redis): Redis {
    const send = redis.sendCommand;
    redis.sendCommand = (command: Command, stream?: Parameters<Redis['sendCommand']>[1]) => {
      const marked = command as Command & { [TIMED]?: true };
      if (!marked[TIMED]) {
        marked[TIMED] = true;
        this.watch(redis, command);
      }
      return send.call(redis, command, stream);
    };
    redis.duplicate = (override?: Partial<RedisOptions>) => this.instrument(Redis.prototype.duplicate.call(redis, override));
    // ioredis emits 'error' for a connection that failed or broke, never for one closed on purpose.
    redis.on('error', () => this.errors.inc({ kind: 'connection' }));
    return redis;
  }

  private watch(redis: Redis, command: Command): void {
    const name = NAMED_COMMANDS.has(command.name) ? command.name : command.name.toLowerCase();
    // No failure: a command cut by closing its connection on purpose (a follower that stops, a
    // shutdown), nor a refused CLIENT SETNAME/SETINFO, which ioredis sends on every new connection and
    // ignores (Redis before 7.2 knows no SETINFO).
    const failed = () => {
      if (redis.status !== 'end' && name !== 'client') this.errors.inc({ kind: 'command' });
    };
    if (isBlocking(name, command.args)) {
      command.promise.catch(failed);
      return;
    }
    const label = NAMED_COMMANDS.has(name) ? name : 'other';
    const started = performance.now();
    const observe = () => this.duration.observe({ command: label }, (performance.now() - started) / 1000);
    command.promise.then(observe, () => {
      observe();
      failed();
    });
  }
}
