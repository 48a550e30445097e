import { Module } from '@nestjs/common';
import { AuthModule } from '@gofer/auth';
import { CatalogModule } from '@gofer/catalog';
import { DalModule } from '@gofer/dal';
import { EventsModule } from '@gofer/events';
import { NotifiersModule } from '@gofer/notifiers';
import { ObjectsModule } from '@gofer/object-store';
import { SecretsModule } from '@gofer/secrets';
import { TriggersModule } from '@gofer/triggers';
import { EngineMetrics } from './engine.metrics.js';
import { NotificationQueue } from './notification-queue.service.js';
import { NotificationReconciler } from './notification-reconciler.service.js';
import { NotificationProcessor } from './notification.processor.js';
import { Reconciler } from './reconciler.service.js';
import { RunEngine } from './run-engine.service.js';
import { TaskQueue } from './task-queue.service.js';
import { TaskProcessor } from './task.processor.js';
import { UseCases } from './use-cases.service.js';

/**
 * Runs: the state machine, the queue of ready task attempts and the use cases (every role). Needs GOFER_CONFIG,
 * LOGGER, the data source and REDIS, provided globally by the application.
 */
@Module({
  imports: [DalModule, EventsModule, CatalogModule, ObjectsModule, TriggersModule, NotifiersModule],
  providers: [RunEngine, TaskQueue, NotificationQueue, EngineMetrics, UseCases],
  exports: [RunEngine, TaskQueue, NotificationQueue, EngineMetrics, UseCases],
})
export class EngineModule {}

/**
 * The worker role: runs task attempts and notifications on the SCHEDULER (provided by the application,
 * with TASK_LOGS), and the reconciler and reaper that keep Postgres, the queues and the containers in step.
 */
@Module({
  imports: [DalModule, EngineModule, EventsModule, AuthModule, SecretsModule, ObjectsModule, NotifiersModule],
  providers: [TaskProcessor, NotificationProcessor, NotificationReconciler, Reconciler],
  exports: [TaskProcessor, NotificationProcessor, Reconciler],
})
export class WorkerModule {}
