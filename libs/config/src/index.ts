export * from './gofer-config.js';
export * from './redact-url.js';
export * from './metrics-registry.js';
