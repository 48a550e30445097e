import { Module } from '@nestjs/common';
import { EventsRepository } from './repositories/events.repository.js';
import { RunRepository } from './repositories/runs.repository.js';
import { TaskRunsRepository } from './repositories/task-runs.repository.js';
import { WorkersRepository } from './repositories/workers.repository.js';

/**
 * The repositories. Needs the {@link DATA_SOURCE} provided (globally) by the application that opened
 * it with `openDataSource`.
 */
const REPOSITORIES = [EventsRepository, RunRepository, TaskRunsRepository, WorkersRepository];

@Module({ providers: REPOSITORIES, exports: REPOSITORIES })
export class DalModule {}
