import { Module } from '@nestjs/common';
import { DalModule } from '@gofer/dal';
import { EventsModule } from '@gofer/events';
import { TriggerSupervisor } from './trigger-supervisor.service.js';
import { TriggerClient } from './trigger.client.js';
import { TriggerService } from './trigger.service.js';
import { TriggersMetrics } from './triggers.metrics.js';

/** Installed triggers and subscriptions (every role). Needs GOFER_CONFIG, LOGGER and METRICS_REGISTRY. */
@Module({
  imports: [DalModule, EventsModule],
  providers: [TriggerService, TriggerClient, TriggersMetrics],
  exports: [TriggerService, TriggerClient, TriggersMetrics],
})
export class TriggersModule {}

/** The worker role's trigger supervisor (leader-elected); needs the SCHEDULER too. */
@Module({
  imports: [DalModule, TriggersModule],
  providers: [TriggerSupervisor],
  exports: [TriggerSupervisor],
})
export class TriggerSupervisorModule {}
