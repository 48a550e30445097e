export * from './container-spec.js';
export * from './engine.metrics.js';
export * from './reconciler.service.js';
export * from './run-engine.service.js';
export * from './task-queue.service.js';
export * from './task.processor.js';
export * from './engine.module.js';
export * from './use-cases.service.js';
