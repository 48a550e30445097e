import { Inject, Injectable } from '@nestjs/common';
import { LATENCY_BUCKETS, METRICS_REGISTRY } from '@gofer/config';
import { Histogram, type Registry } from 'prom-client';

/** The API's metrics: request latency by method and gRPC status code. */
@Injectable()
export class ApiMetrics {
  readonly rpcDuration: Histogram<'method' | 'code'>;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry) {
    this.rpcDuration = new Histogram({
      name: 'gofer_grpc_request_duration_seconds', help: 'gRPC request latency, by method and status code.',
      labelNames: ['method', 'code'] as const, buckets: LATENCY_BUCKETS, registers: [registry],
    });
  }
}
