// Child-process entry: boots one Gofer process (API + worker) in-process with `bootService`, with the
// Docker scheduler (`docker`) or the benchmark's no-op one (`noop`). Configuration comes from the
// GOFER_* environment; its logs go to whatever stdout the parent gave it (a file). Over IPC it answers
// `stats` with the instruments' readings (support/instrument.mjs) and `reset` by zeroing them.
//
//   node bench/support/gofer-host.mjs docker|noop
import { instrumentLibraries, instrumentService, reset, snapshot } from './instrument.mjs';

instrumentLibraries();
const { bootService } = await import('../../apps/gofer/dist/service/start.js');
const { createNoopScheduler } = await import('./noop.scheduler.mjs');

const kind = process.argv[2] ?? 'docker';
const scheduler = kind === 'noop' ? createNoopScheduler() : undefined;
const service = await bootService(['api', 'worker'], process.env, { scheduler });
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
