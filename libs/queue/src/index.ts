export * from './job.interface.js';
export * from './queue.tokens.js';
export * from './task-attempt-key.js';
export * from './extension-keys.js';
