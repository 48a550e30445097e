export * from './gofer-config.js';
export * from './redact-url.js';
