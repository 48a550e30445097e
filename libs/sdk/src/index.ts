export * from './pipeline-builder.js';
