// Child-process entry: boots one Gofer process from the built dist/ with `bootService`, with the
// scheduler its GOFER_SCHEDULER environment names (`docker`, or `nomad` with GOFER_NOMAD_*) or the
// benchmark's no-op one (`noop`), and the roles given (default: API and worker in one process; the
// scale-out benchmark starts API-only and worker-only processes).
// Configuration comes from the GOFER_* environment; its logs go to whatever stdout the parent gave it
// (a file). Over IPC it answers `stats` with the instruments' readings (support/instrument.mjs) and
// `reset` by zeroing them.
//
//   node bench/support/gofer-host.mjs docker|nomad|noop [api,worker|api|worker]
import { instrumentLibraries, instrumentService, reset, snapshot } from './instrument.mjs';

instrumentLibraries();
// GOFER_BENCH_PG_POOL_MAX caps each process's Postgres pool (Gofer's own is 20): six processes at 20
// would take most of a default Postgres's 100 connections, which the machine shares with other work.
const poolMax = Number(process.env.GOFER_BENCH_PG_POOL_MAX ?? 0);
if (poolMax > 0) {
  const { default: pg } = await import('pg');
  const Pool = pg.Pool;
  pg.Pool = class extends Pool {
    constructor(options = {}) {
      super({ ...options, max: Math.min(options.max ?? 10, poolMax) });
    }
  };
}
const { bootService } = await import('../../apps/gofer/dist/service/start.js');
const { createNoopScheduler } = await import('./noop.scheduler.mjs');

const kind = process.argv[2] ?? 'docker';
const roles = (process.argv[3] ?? 'api,worker').split(',');
const scheduler = kind === 'noop' ? createNoopScheduler() : undefined;
const service = await bootService(roles, process.env, { scheduler });
await instrumentService(service);

process.on('message', (message) => {
  if (message === 'stats') process.send?.({ stats: snapshot() });
  if (message === 'reset') {
    reset();
    process.send?.({ reset: true });
  }
});

let stopping = false;
const shutdown = () => {
  if (stopping) return;
  stopping = true;
  process.disconnect?.();
  service.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
