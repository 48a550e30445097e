import { Controller, Get, Header, Inject } from '@nestjs/common';
import { Authorize } from '@gofer/auth';
import { METRICS_REGISTRY } from '@gofer/config';
import type { Registry } from 'prom-client';

/** `GET /metrics` in the Prometheus text format: every subsystem's metrics, on the process's one registry. */
@Controller()
export class MetricsController {
  constructor(@Inject(METRICS_REGISTRY) private readonly registry: Registry) {}

  @Authorize('public')
  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  async metricsText(): Promise<string> {
    return this.registry.metrics();
  }
}
