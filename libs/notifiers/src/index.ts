export * from './builtin-notifiers.js';
export * from './notifier.metrics.js';
export * from './notifier.service.js';
export * from './notifiers.module.js';
export * from './run-summary.js';
