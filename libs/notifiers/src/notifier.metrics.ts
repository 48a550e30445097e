import { Inject, Injectable } from '@nestjs/common';
import { METRICS_REGISTRY } from '@gofer/config';
import { Counter, type Registry } from 'prom-client';

/** The notifiers' metrics (registered on the process's METRICS_REGISTRY). */
@Injectable()
export class NotifierMetrics {
  /** Notifications that completed, by notifier and status (`successful`, `failed`). */
  readonly runs: Counter<'notifier' | 'status'>;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry) {
    this.runs = new Counter({
      name: 'gofer_notifier_runs_total',
      help: 'Notifier runs after a run completed, by notifier and status (successful, failed).',
      labelNames: ['notifier', 'status'] as const,
      registers: [registry],
    });
  }
}
