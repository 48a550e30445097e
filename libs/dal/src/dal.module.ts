import { Module } from '@nestjs/common';
import { Transactions } from './transaction.js';
import { ClusterRepository } from './repositories/cluster.repository.js';
import { EventsRepository } from './repositories/events.repository.js';
import { NamespacesRepository } from './repositories/namespaces.repository.js';
import { ObjectsRepository } from './repositories/objects.repository.js';
import { PipelineConfigsRepository } from './repositories/pipeline-configs.repository.js';
import { PipelinesRepository } from './repositories/pipelines.repository.js';
import { RunRepository } from './repositories/runs.repository.js';
import { SecretsRepository } from './repositories/secrets.repository.js';
import { TaskRunsRepository } from './repositories/task-runs.repository.js';
import { TokensRepository } from './repositories/tokens.repository.js';
import { WorkersRepository } from './repositories/workers.repository.js';
import { LeasesRepository } from './repositories/leases.repository.js';
import { TriggersRepository } from './repositories/triggers.repository.js';
import { NotifiersRepository } from './repositories/notifiers.repository.js';
import { RunNotificationsRepository } from './repositories/run-notifications.repository.js';

/**
 * The repositories. Needs the {@link DATA_SOURCE} provided (globally) by the application that opened
 * it with `openDataSource`.
 */
const REPOSITORIES = [
  Transactions,
  EventsRepository, RunRepository, TaskRunsRepository, WorkersRepository, ClusterRepository, SecretsRepository, ObjectsRepository, NamespacesRepository, PipelinesRepository, PipelineConfigsRepository, TokensRepository,
  TriggersRepository, LeasesRepository, NotifiersRepository, RunNotificationsRepository];

@Module({ providers: REPOSITORIES, exports: REPOSITORIES })
export class DalModule {}
