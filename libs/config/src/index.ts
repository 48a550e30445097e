export * from './gofer-config.js';
