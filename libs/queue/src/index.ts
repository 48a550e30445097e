export * from './job.interface.js';
