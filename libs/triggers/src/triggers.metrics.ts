import { Inject, Injectable } from '@nestjs/common';
import { LATENCY_BUCKETS, METRICS_REGISTRY } from '@gofer/config';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** What Gofer did with a trigger event (the `outcome` label). */
export type TriggerEventOutcome = 'started' | 'duplicate' | 'pipeline_disabled' | 'rejected';

/** Trigger metrics. Label values are bounded: installed trigger names (or `unknown`), fixed outcomes. */
@Injectable()
export class TriggersMetrics {
  readonly events: Counter<'trigger' | 'outcome'>;
  readonly eventToRunStart: Histogram<'trigger'>;
  readonly up: Gauge<'trigger'>;
  readonly leader: Gauge<'duty'>;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry) {
    this.events = new Counter({
      name: 'gofer_trigger_events_total',
      help: 'Events posted by triggers, by trigger and what Gofer did with them (started, duplicate, pipeline_disabled, rejected).',
      labelNames: ['trigger', 'outcome'],
      registers: [registry],
    });
    this.eventToRunStart = new Histogram({
      name: 'gofer_trigger_event_to_run_start_seconds',
      help: 'From a trigger event reaching the API to its run being stored and its first tasks queued.',
      labelNames: ['trigger'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
    this.up = new Gauge({
      name: 'gofer_triggers_up',
      help: "1 while a trigger's container answers the supervisor's health check, else 0 (exported by the leading worker).",
      labelNames: ['trigger'],
      registers: [registry],
    });
    this.leader = new Gauge({
      name: 'gofer_leader',
      help: '1 while this process leads the duty (e.g. triggers: supervising trigger containers).',
      labelNames: ['duty'],
      registers: [registry],
    });
  }
}
