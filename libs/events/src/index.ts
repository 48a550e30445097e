export * from './event-log.service.js';
export * from './events.module.js';
