import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { GOFER_VERSION } from '../version.js';

/**
 * The process's one Prometheus registry, with Node's own metrics (`gofer_process_*`, `gofer_nodejs_*`)
 * and `gofer_build_info` (which version each replica runs, e.g. mid-upgrade). Made before the
 * connections are opened, so their metrics cover startup (migrations included).
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'gofer_' });
  new Gauge({
    name: 'gofer_build_info', help: 'Always 1; labels give the Gofer version and the Node.js version of this process.',
    labelNames: ['version', 'node'] as const, registers: [registry],
  }).set({ version: GOFER_VERSION, node: process.version }, 1);
  return registry;
}
