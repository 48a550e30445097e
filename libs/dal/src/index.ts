// The data-access layer's public surface: entities, repositories, the transaction helper and the
// statements' types. The pool, raw connections and statement runners stay inside: every query goes
// through a repository.
export * from './dal.module.js';
export * from './dal.tokens.js';
export { DatabaseUnavailableError, MIGRATIONS, openDataSource, pingDatabase } from './data-source.js';
export * from './entities/cluster.entity.js';
export * from './entities/event.entity.js';
export * from './entities/namespace.entity.js';
export * from './entities/object.entity.js';
export * from './entities/pipeline-config.entity.js';
export * from './entities/pipeline.entity.js';
export * from './entities/retired-pipeline.entity.js';
export * from './entities/run.entity.js';
export * from './entities/secret.entity.js';
export * from './entities/task-run.entity.js';
export * from './entities/token.entity.js';
export * from './entities/worker.entity.js';
export * from './group-commit.js';
export * from './repositories/cluster.repository.js';
export * from './repositories/events.repository.js';
export * from './repositories/namespaces.repository.js';
export * from './repositories/objects.repository.js';
export * from './repositories/pipeline-configs.repository.js';
export * from './repositories/pipelines.repository.js';
export * from './repositories/runs.repository.js';
export * from './repositories/secrets.repository.js';
export * from './repositories/task-runs.repository.js';
export * from './repositories/tokens.repository.js';
export * from './repositories/workers.repository.js';
export { literal, type Statement } from './statement.js';
export { Transactions, type Tx } from './transaction.js';
export type { DataSource, EntityManager } from 'typeorm';
