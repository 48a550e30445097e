import {
  Inject, Module, type BeforeApplicationShutdown, type DynamicModule, type OnApplicationBootstrap, type OnApplicationShutdown,
  type Provider,
} from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { GOFER_CONFIG, type GoferConfig } from '@gofer/config';
import {
  ConfigParser, DATA_SOURCE, EventLog, GoferMetrics, LOGGER, NamespaceService, OBJECT_STORE, ObjectService, PipelineService, REDIS, Reconciler,
  RunEngine, RunRepository, SCHEDULER, SecretService, TASK_LOGS, TaskProcessor, TaskQueue, TokenService,
} from '@gofer/engine';
import type { Logger } from 'pino';
import { HealthController } from '../api/health.controller.js';
import { MetricsController } from '../api/metrics.controller.js';
import { PipelinesGrpcController } from '../api/pipelines.grpc.controller.js';
import { FollowSlots } from '../api/follow-slots.js';
import { RpcGateway } from '../api/rpc.gateway.js';
import { RunsGrpcController } from '../api/runs.grpc.controller.js';
import { SystemGrpcController } from '../api/system.grpc.controller.js';
import { TaskRunsGrpcController } from '../api/task-runs.grpc.controller.js';
import { EventsGrpcController } from '../api/events.grpc.controller.js';
import { NamespacesGrpcController } from '../api/namespaces.grpc.controller.js';
import { ObjectsGrpcController } from '../api/objects.grpc.controller.js';
import { SecretsGrpcController } from '../api/secrets.grpc.controller.js';
import { TokensGrpcController } from '../api/tokens.grpc.controller.js';
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

/** Closes the connections after every module has stopped using them. */
class InfrastructureLifecycle implements OnApplicationShutdown {
  constructor(@Inject('INFRASTRUCTURE') private readonly infra: Infrastructure) {}
  async onApplicationShutdown(): Promise<void> {
    await this.infra.close();
  }
}

/** The Gofer service: the API role (gRPC + HTTP), the worker role, or both in one process. */
@Module({})
export class ServiceModule {
  static forRoles(roles: Role[], config: GoferConfig, infra: Infrastructure, logger: Logger): DynamicModule {
    const providers: Provider[] = [
      { provide: GOFER_CONFIG, useValue: config },
      { provide: 'INFRASTRUCTURE', useValue: infra },
      { provide: DATA_SOURCE, useValue: infra.db },
      { provide: REDIS, useValue: infra.redis },
      { provide: TASK_LOGS, useValue: infra.logs },
      { provide: OBJECT_STORE, useValue: infra.objects },
      { provide: LOGGER, useValue: logger },
      InfrastructureLifecycle,
      GoferMetrics,
      TaskQueue,
      RunEngine,
      RunRepository,
      PipelineService, ConfigParser,
      EventLog,
      NamespaceService,
      ObjectService,
      SecretService,
      TokenService,
    ];
    const controllers: Array<new (...args: never[]) => unknown> = [HealthController, MetricsController];
    if (roles.includes('api')) {
      controllers.push(
        SystemGrpcController, PipelinesGrpcController, RunsGrpcController, TaskRunsGrpcController, TokensGrpcController,
        NamespacesGrpcController, ObjectsGrpcController, SecretsGrpcController, EventsGrpcController,
      );
      providers.push({ provide: APP_INTERCEPTOR, useClass: RpcGateway }, FollowSlots);
    }
    if (roles.includes('worker')) {
      providers.push({ provide: SCHEDULER, useValue: infra.scheduler }, TaskProcessor, Reconciler, WorkerLifecycle);
    }
    return { module: ServiceModule, providers, controllers };
  }
}
