// How busy and how fast the machine is right now, measured before each benchmark: the machine is shared
// (other jobs may be running tests on the same 2 cores), so every number in the report is read against
// these. A trivial Postgres query or Redis PING that takes milliseconds means the machine is contended.
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pg from 'pg';
import { cpuDelta, cpuSnapshot } from './cpu.mjs';
import { percentile } from './stats.mjs';

const POSTGRES = process.env.GOFER_BENCH_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432';
const ROUND_TRIPS = 200;

async function roundTrips(call) {
  const samples = [];
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const t0 = performance.now();
    await call();
    samples.push(performance.now() - t0);
  }
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

/** Idle CPU use of everything else over `idleMs`, plus Postgres and Redis round-trip times. */
export async function calibrate(idleMs = 2000) {
  const before = cpuSnapshot(process.pid);
  await sleep(idleMs);
  const idle = cpuDelta(before, cpuSnapshot(process.pid));
  const client = new pg.Client({ connectionString: `${POSTGRES}/postgres` });
  await client.connect();
  const postgres = await roundTrips(() => client.query('SELECT 1'));
  await client.end();
  const redis = new Redis('redis://127.0.0.1:6379');
  const redisTrips = await roundTrips(() => redis.ping());
  redis.disconnect();
  return {
    loadAverage1m: loadavg()[0],
    busyCoresWhileIdle: idle.cpuSeconds.machineBusy / idle.wallSeconds,
    postgresSelect1Ms: postgres,
    redisPingMs: redisTrips,
  };
}
