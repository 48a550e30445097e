export * from './gofer-error.js';
