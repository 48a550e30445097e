import { Controller, Get, Header } from '@nestjs/common';
import { GoferMetrics, TaskQueue } from '@gofer/engine';

/** `GET /metrics` in the Prometheus text format. */
@Controller()
export class MetricsController {
  constructor(
    private readonly metrics: GoferMetrics,
    private readonly queue: TaskQueue,
  ) {}

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  async metricsText(): Promise<string> {
    try {
      const counts = await this.queue.queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
      for (const [state, count] of Object.entries(counts)) this.metrics.queueJobs.set({ state }, count);
    } catch {
      // Redis unavailable: the other metrics are still worth serving.
    }
    return this.metrics.registry.metrics();
  }
}
