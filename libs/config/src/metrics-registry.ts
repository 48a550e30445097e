/**
 * Injection token of the process's one Prometheus registry (prom-client `Registry`): each lib's
 * `*.metrics.ts` registers its metrics on it, and `GET /metrics` serves it.
 */
export const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');

/** Histogram buckets (seconds) for latencies of requests and steps: 1 ms to 30 s. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
