export * from './config-parser.js';
export * from './namespace.service.js';
export * from './pipeline.service.js';
export * from './catalog.module.js';
