import {
  Global, Inject, Injectable, Module, type BeforeApplicationShutdown, type DynamicModule, type OnApplicationBootstrap, type OnApplicationShutdown,
  type Provider,
} from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { AuthModule } from '@gofer/auth';
import { CatalogModule } from '@gofer/catalog';
import { GOFER_CONFIG, LOGGER, METRICS_REGISTRY, type GoferConfig } from '@gofer/config';
import { DalModule, DATA_SOURCE } from '@gofer/dal';
import { EngineModule, Reconciler, TaskProcessor, WorkerModule } from '@gofer/engine';
import { EventsModule } from '@gofer/events';
import { TASK_LOGS } from '@gofer/logs';
import { OBJECT_STORE, ObjectsModule } from '@gofer/object-store';
import { REDIS } from '@gofer/queue';
import { SCHEDULER } from '@gofer/scheduler';
import { SecretsModule } from '@gofer/secrets';
import { NotifiersModule } from '@gofer/notifiers';
import { TriggerSupervisor, TriggerSupervisorModule, TriggersModule } from '@gofer/triggers';
import type { Logger } from 'pino';
import { ApiMetrics, HttpMetrics } from '../api/api.metrics.js';
import { HealthController } from '../api/health.controller.js';
import { MetricsController } from '../api/metrics.controller.js';
import { PipelinesGrpcController } from '../api/pipelines.grpc.controller.js';
import { FollowSlots } from '../api/follow-slots.js';
import { Shutdown } from '../api/shutdown.js';
import { AuthorizationGuard } from '../api/authorization.guard.js';
import { RpcGateway } from '../api/rpc.gateway.js';
import { RunsGrpcController } from '../api/runs.grpc.controller.js';
import { SystemGrpcController } from '../api/system.grpc.controller.js';
import { TaskRunsGrpcController } from '../api/task-runs.grpc.controller.js';
import { EventsGrpcController } from '../api/events.grpc.controller.js';
import { NamespacesGrpcController } from '../api/namespaces.grpc.controller.js';
import { ObjectsGrpcController } from '../api/objects.grpc.controller.js';
import { SecretsGrpcController } from '../api/secrets.grpc.controller.js';
import { TokensGrpcController } from '../api/tokens.grpc.controller.js';
import { ExternalEventsController } from '../api/external-events.controller.js';
import { TriggersGrpcController } from '../api/triggers.grpc.controller.js';
import { BuiltinTriggers } from './builtin-triggers.js';
import { BuiltinNotifiers } from './builtin-notifiers.js';
import { NotifiersGrpcController } from '../api/notifiers.grpc.controller.js';
import type { Infrastructure } from './infrastructure.js';

export type Role = 'api' | 'worker';

/**
 * Starts the worker's loops once the whole application is wired, and retires the worker on shutdown.
 * Shutdown runs in Nest's three phases: the processor drains (onModuleDestroy), then the worker
 * retires (beforeApplicationShutdown), then connections close (onApplicationShutdown).
 */
class WorkerLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    private readonly processor: TaskProcessor,
    private readonly reconciler: Reconciler,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(GOFER_CONFIG) private readonly config: GoferConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.processor.start();
    await this.reconciler.start();
    this.logger.info({ worker_id: this.config.workerId, concurrency: this.config.workerConcurrency }, 'worker started');
  }

  async beforeApplicationShutdown(): Promise<void> {
    // The processor already handed its attempts over (onModuleDestroy); let others adopt them now.
    await this.reconciler.retire();
  }
}

/** Supervises trigger containers while this worker leads; hands the lease over at shutdown. */
@Injectable()
class TriggerSupervisorLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(private readonly supervisor: TriggerSupervisor) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.supervisor.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.supervisor.stop();
  }
}

/** Closes the connections after every module has stopped using them. */
class InfrastructureLifecycle implements OnApplicationShutdown {
  constructor(@Inject('INFRASTRUCTURE') private readonly infra: Infrastructure) {}
  async onApplicationShutdown(): Promise<void> {
    await this.infra.close();
  }
}

/**
 * What the process opened at startup (configuration, logger, connections, the scheduler of a worker),
 * provided to every lib's module under the injection tokens those libs own.
 */
@Global()
@Module({})
class InfrastructureModule {
  static of(roles: Role[], config: GoferConfig, infra: Infrastructure, logger: Logger): DynamicModule {
    const providers: Provider[] = [
      { provide: GOFER_CONFIG, useValue: config },
      { provide: 'INFRASTRUCTURE', useValue: infra },
      { provide: DATA_SOURCE, useValue: infra.db },
      { provide: REDIS, useValue: infra.redis },
      { provide: TASK_LOGS, useValue: infra.logs },
      { provide: OBJECT_STORE, useValue: infra.objects },
      { provide: LOGGER, useValue: logger },
      { provide: METRICS_REGISTRY, useValue: infra.metrics },
    ];
    if (roles.includes('worker')) providers.push({ provide: SCHEDULER, useValue: infra.scheduler });
    return { module: InfrastructureModule, providers, exports: providers.map((p) => (p as { provide: unknown }).provide as symbol) };
  }
}

/** The Gofer service: the API role (gRPC + HTTP), the worker role, or both in one process. */
@Module({})
export class ServiceModule {
  static forRoles(roles: Role[], config: GoferConfig, infra: Infrastructure, logger: Logger): DynamicModule {
    const imports: DynamicModule['imports'] = [
      InfrastructureModule.of(roles, config, infra, logger),
      DalModule, EventsModule, AuthModule, CatalogModule, SecretsModule, ObjectsModule, TriggersModule, NotifiersModule, EngineModule,
    ];
    // Every gRPC and HTTP handler, in every role, passes it: a handler without @Authorize is refused.
    const providers: Provider[] = [
      InfrastructureLifecycle, BuiltinTriggers, BuiltinNotifiers, HttpMetrics, Shutdown, { provide: APP_GUARD, useClass: AuthorizationGuard },
    ];
    const controllers: Array<new (...args: never[]) => unknown> = [HealthController, MetricsController];
    if (roles.includes('api')) {
      controllers.push(
        SystemGrpcController, PipelinesGrpcController, RunsGrpcController, TaskRunsGrpcController, TokensGrpcController,
        NamespacesGrpcController, ObjectsGrpcController, SecretsGrpcController, EventsGrpcController, TriggersGrpcController,
        ExternalEventsController, NotifiersGrpcController,
      );
      providers.push({ provide: APP_INTERCEPTOR, useClass: RpcGateway }, FollowSlots, ApiMetrics);
    }
    if (roles.includes('worker')) {
      imports.push(WorkerModule, TriggerSupervisorModule);
      providers.push(WorkerLifecycle, TriggerSupervisorLifecycle);
    }
    return { module: ServiceModule, imports, providers, controllers };
  }
}
