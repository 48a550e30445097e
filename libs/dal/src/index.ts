export * from './data-source.js';
export * from './entities/cluster.entity.js';
export * from './entities/namespace.entity.js';
export * from './entities/pipeline-config.entity.js';
export * from './entities/pipeline.entity.js';
export * from './entities/run.entity.js';
export * from './entities/task-run.entity.js';
export * from './entities/worker.entity.js';
