import { Inject, Injectable } from '@nestjs/common';
import { PipelineEntity, RunEntity, TaskRunEntity } from '@gofer/dal';
import type { DataSource } from 'typeorm';
import { DATA_SOURCE } from './engine.tokens.js';
import { notFound } from './errors.js';
import type { RunKey } from './run-engine.service.js';

/** Read side of runs and task runs. */
@Injectable()
export class RunRepository {
  constructor(@Inject(DATA_SOURCE) private readonly db: DataSource) {}

  async getRun(key: RunKey): Promise<RunEntity> {
    const run = await this.db.manager.findOneBy(RunEntity, { namespaceId: key.namespaceId, pipelineId: key.pipelineId, id: key.runId });
    if (!run) throw notFound(`run ${key.runId} of pipeline "${key.pipelineId}" not found in namespace "${key.namespaceId}"`);
    return run;
  }

  /** Newest first; NOT_FOUND for a pipeline that does not exist (rather than an empty list). */
  /** Newest first; `limit` and `offset` are checked by the caller. */
  async listRuns(namespaceId: string, pipelineId: string, limit: number, offset: number): Promise<RunEntity[]> {
    if (!(await this.db.manager.existsBy(PipelineEntity, { namespaceId, id: pipelineId }))) {
      throw notFound(`pipeline "${pipelineId}" not found in namespace "${namespaceId}"`);
    }
    return this.db.manager.find(RunEntity, {
      where: { namespaceId, pipelineId },
      order: { id: 'DESC' },
      take: limit,
      skip: offset,
    });
  }

  async getTaskRun(key: RunKey & { taskId: string }): Promise<TaskRunEntity> {
    const row = await this.db.manager.findOneBy(TaskRunEntity, {
      namespaceId: key.namespaceId, pipelineId: key.pipelineId, runId: key.runId, taskId: key.taskId,
    });
    if (!row) {
      await this.getRun(key);
      throw notFound(`task "${key.taskId}" not found in run ${key.runId} of pipeline "${key.pipelineId}"`);
    }
    return row;
  }

  async listTaskRuns(key: RunKey): Promise<TaskRunEntity[]> {
    await this.getRun(key);
    return this.db.manager.find(TaskRunEntity, {
      where: { namespaceId: key.namespaceId, pipelineId: key.pipelineId, runId: key.runId },
      order: { started: { direction: 'ASC', nulls: 'LAST' }, taskId: 'ASC' },
    });
  }
}
