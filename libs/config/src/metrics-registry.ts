/**
 * Injection token of the process's one Prometheus registry (prom-client `Registry`): each lib's
 * `*.metrics.ts` registers its metrics on it, and `GET /metrics` serves it.
 */
export const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');
