// Measuring instruments for the Gofer process under benchmark (loaded by gofer-host.mjs, never by
// Gofer itself). They wrap library prototypes and service instances to count and time what one task
// costs: Postgres statements and pool waits, Redis commands, the engine's steps, and event-loop delay.
// Each costs a counter increment and two clock reads per call.
import net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Modem from 'docker-modem';
import pg from 'pg';
import { Redis } from 'ioredis';

/** name → { count, totalMs, maxMs } */
const timings = new Map();
const counts = new Map();
const LOOP_RESOLUTION_MS = 10;
let loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
loopDelay.enable();

function record(name, ms) {
  let t = timings.get(name);
  if (!t) timings.set(name, (t = { count: 0, totalMs: 0, maxMs: 0 }));
  t.count += 1;
  t.totalMs += ms;
  if (ms > t.maxMs) t.maxMs = ms;
}

/** container id → { waited, logsClosed } (performance.now() times) */
const containers = new Map();

function containerEvents(id) {
  let events = containers.get(id);
  if (!events) containers.set(id, (events = {}));
  return events;
}

function count(name) {
  counts.set(name, (counts.get(name) ?? 0) + 1);
}

/** Times a promise-returning method of `target` under `name` (replaces the property). */
function timeMethod(target, method, name) {
  const original = target?.[method];
  if (typeof original !== 'function') return; // renamed in the engine: that reading is simply missing
  target[method] = function (...args) {
    const t0 = performance.now();
    const result = original.apply(this, args);
    if (result && typeof result.then === 'function') {
      return result.finally(() => record(name, performance.now() - t0));
    }
    record(name, performance.now() - t0);
    return result;
  };
}

function statementKind(text) {
  const head = /^\s*(\w+(?:\s+TRANSACTION)?)/i.exec(text)?.[1]?.toUpperCase() ?? '?';
  if (head !== 'SELECT') return head;
  if (/FOR (NO KEY )?UPDATE/i.test(text)) return 'SELECT … FOR UPDATE';
  return 'SELECT';
}

function dockerPath(path) {
  return path
    .replace(/\?.*$/, '')
    .replace(/^\/v[\d.]+/, '')
    .replace(/^\/containers\/(?!create|json)[^/]+/, '/containers/{id}')
    .replace(/^\/images\/.+\/json$/, '/images/{name}/json');
}

/** Wraps pg, ioredis and docker-modem before Gofer opens its connections. */
export function instrumentLibraries() {
  const originalQuery = pg.Client.prototype.query;
  pg.Client.prototype.query = function (config, values, callback) {
    const text = typeof config === 'string' ? config : config?.text;
    const kind = text ? `pg ${statementKind(text)}` : undefined;
    const t0 = performance.now();
    // pg-pool's query() passes a callback: wrap it, so statements sent through the pool are timed too.
    const cb = typeof values === 'function' ? values : callback;
    if (kind && typeof cb === 'function') {
      const timed = (...args) => {
        record(kind, performance.now() - t0);
        cb(...args);
      };
      return typeof values === 'function' ? originalQuery.call(this, config, timed) : originalQuery.call(this, config, values, timed);
    }
    const result = originalQuery.call(this, config, values, callback);
    if (kind && result && typeof result.then === 'function') {
      return result.finally(() => record(kind, performance.now() - t0));
    }
    return result;
  };
  const originalConnect = pg.Pool.prototype.connect;
  pg.Pool.prototype.connect = function (callback) {
    const t0 = performance.now();
    if (typeof callback === 'function') {
      return originalConnect.call(this, (...args) => {
        record('pg pool wait', performance.now() - t0);
        callback(...args);
      });
    }
    return originalConnect.call(this).finally(() => record('pg pool wait', performance.now() - t0));
  };
  // Every Docker Engine API request (dockerode goes through docker-modem), by method and path shape.
  const originalDial = Modem.prototype.dial;
  Modem.prototype.dial = function (options, callback) {
    const path = dockerPath(options.path);
    const name = `docker ${options.method} ${path}`;
    const id = /^\/containers\/([^/?]+)\/(wait|logs)/.exec(options.path.replace(/^\/v[\d.]+/, ''))?.[1];
    const t0 = performance.now();
    return originalDial.call(this, options, (error, result) => {
      record(name, performance.now() - t0);
      // When a container's exit was seen (wait answered) and when its followed log stream ended: the
      // worker waits for both before it records the result.
      if (id && path.endsWith('/wait')) containerEvents(id).waited = performance.now();
      if (id && path.endsWith('/logs') && result && typeof result.once === 'function') {
        result.once('close', () => (containerEvents(id).logsClosed = performance.now()));
      }
      callback?.(error, result);
    });
  };
  // Every write to a socket, by peer: on a VM each write (and the wake-up of the peer it causes) costs
  // tens of microseconds, more than most statements, so fewer round trips is what makes the engine cheaper.
  const originalWrite = net.Socket.prototype._writeGeneric;
  net.Socket.prototype._writeGeneric = function (writev, data, encoding, cb) {
    const port = this.remotePort;
    count(`socket writes ${port === 5432 ? 'postgres' : port === 6379 ? 'redis' : port ? 'tcp other' : 'unix socket'}`);
    return originalWrite.call(this, writev, data, encoding, cb);
  };
  const originalSend = Redis.prototype.sendCommand;
  Redis.prototype.sendCommand = function (command, stream) {
    count(`redis ${command.name}`);
    return originalSend.call(this, command, stream);
  };
}

/** Wraps the engine's services inside a booted Gofer (`bootService`'s result). */
export async function instrumentService(service) {
  const engine = await import('@gofer/engine');
  const { TASK_LOGS } = await import('@gofer/logs');
  // An API-only process has no TaskProcessor (and a worker-only one may lack others): skip what is missing.
  const get = (token) => {
    try {
      return service.app.get(token, { strict: false });
    } catch {
      return undefined;
    }
  };
  const runEngine = get(engine.RunEngine);
  for (const method of ['claimAttempt', 'completeAttempt', 'taskConfig', 'recordSchedulerId', 'startRun']) {
    timeMethod(runEngine, method, `engine.${method}`);
  }
  timeMethod(get(engine.TaskQueue), 'enqueue', 'queue.enqueue');
  const logs = get(TASK_LOGS);
  for (const method of ['writer', 'finish', 'archiveLive', 'expireLive']) timeMethod(logs, method, `logs.${method}`);
  // The whole attempt as the worker sees it: claim, container, logs, completion.
  timeMethod(get(engine.TaskProcessor), 'process', 'worker.process (whole attempt)');
}

export function snapshot() {
  return {
    timings: Object.fromEntries([...timings].sort(([a], [b]) => a.localeCompare(b))),
    counts: Object.fromEntries([...counts].sort(([a], [b]) => a.localeCompare(b))),
    logStreamEndAfterWaitMs: (() => {
      const gaps = [...containers.values()].filter((e) => e.waited && e.logsClosed).map((e) => e.logsClosed - e.waited);
      return gaps.length ? { n: gaps.length, mean: gaps.reduce((a, b) => a + b, 0) / gaps.length, max: Math.max(...gaps) } : undefined;
    })(),
    // How late a 10 ms timer fired, beyond its 10 ms: time the event loop was busy with something else.
    eventLoopDelayMs: {
      p50: Math.max(0, loopDelay.percentile(50) / 1e6 - LOOP_RESOLUTION_MS),
      p99: Math.max(0, loopDelay.percentile(99) / 1e6 - LOOP_RESOLUTION_MS),
      max: Math.max(0, loopDelay.max / 1e6 - LOOP_RESOLUTION_MS),
    },
    memory: process.memoryUsage(),
  };
}

export function reset() {
  timings.clear();
  containers.clear();
  counts.clear();
  loopDelay.disable();
  loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loopDelay.enable();
}
