import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { LATENCY_BUCKETS, METRICS_REGISTRY } from '@gofer/config';
import { Gauge, Histogram, type Registry } from 'prom-client';
import { FollowSlots } from './follow-slots.js';

/** The API's metrics: request latency by method and gRPC status code, and the live follows it serves. */
@Injectable()
export class ApiMetrics {
  readonly rpcDuration: Histogram<'method' | 'code'>;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry, @Optional() slots?: FollowSlots) {
    this.rpcDuration = new Histogram({
      name: 'gofer_grpc_request_duration_seconds', help: 'gRPC request latency, by method and status code.',
      labelNames: ['method', 'code'] as const, buckets: LATENCY_BUCKETS, registers: [registry],
    });
    if (slots) new Gauge({
      name: 'gofer_api_follows', help: 'Live follows (task logs, events) this API process serves now.',
      labelNames: ['kind'] as const, registers: [registry],
      collect() {
        for (const kind of ['logs', 'events'] as const) this.set({ kind }, slots.inUse({ kind }));
      },
    });
  }
}

/** What an HTTP request is labelled with when no route matched it (a bounded stand-in for its path). */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * The HTTP port's metrics (every role serves `/metrics` and health there; the API role also the
 * external-event route): latency by route pattern (never the raw path, which a client chooses) and status code.
 */
@Injectable()
export class HttpMetrics {
  readonly requestDuration: Histogram<'route' | 'code'>;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry) {
    this.requestDuration = new Histogram({
      name: 'gofer_http_request_duration_seconds',
      help: 'HTTP request latency, by route pattern (or "unmatched") and status code.',
      labelNames: ['route', 'code'] as const, buckets: LATENCY_BUCKETS, registers: [registry],
    });
  }

  /**
   * Express middleware timing every request until its response ends. Installed before Nest registers
   * its routes, so it sees them all, 404s included; the route is read when the response ends, after
   * Express has matched it (`req.route`).
   */
  middleware(): (req: IncomingMessage & { route?: { path?: unknown } }, res: ServerResponse, next: () => void) => void {
    return (req, res, next) => {
      const end = this.requestDuration.startTimer();
      res.once('close', () => {
        const path = req.route?.path;
        end({ route: typeof path === 'string' ? path : UNMATCHED_ROUTE, code: String(res.statusCode) });
      });
      next();
    };
  }
}
