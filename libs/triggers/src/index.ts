export { LeaderLease } from './leader-lease.js';
export { TRIGGER_PORT_ENV, TRIGGERS_DUTY, TriggerSupervisor } from './trigger-supervisor.service.js';
export { TriggerClient, type TriggerEndpoint } from './trigger.client.js';
export { endpointOf, subscriptionMessage, TriggerService, type PlannedSubscription, type TriggerInstall } from './trigger.service.js';
export { TriggerSupervisorModule, TriggersModule } from './triggers.module.js';
export { TriggersMetrics, type TriggerEventOutcome } from './triggers.metrics.js';
