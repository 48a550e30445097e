export * from './log-archive.js';
export * from './log-chunk.js';
export * from './log-frames.js';
export * from './task-logs.service.js';
export * from './logs.tokens.js';
