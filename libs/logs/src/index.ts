export * from './log-archive.js';
export * from './task-logs.service.js';
