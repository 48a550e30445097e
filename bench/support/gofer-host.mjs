// Child-process entry: boots one Gofer process (API + worker) in-process with `bootService`, with the
// Docker scheduler (`docker`) or the benchmark's no-op one (`noop`). Configuration comes from the
// GOFER_* environment; its logs go to whatever stdout the parent gave it (a file).
//
//   node bench/support/gofer-host.mjs docker|noop
import { bootService } from '../../apps/gofer/dist/service/start.js';
import { createNoopScheduler } from './noop.scheduler.mjs';

const kind = process.argv[2] ?? 'docker';
const scheduler = kind === 'noop' ? createNoopScheduler() : undefined;
const service = await bootService(['api', 'worker'], process.env, { scheduler });

let stopping = false;
const shutdown = () => {
  if (stopping) return;
  stopping = true;
  service.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
