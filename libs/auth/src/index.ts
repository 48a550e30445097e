export * from './token.service.js';
export * from './auth.module.js';
export * from './authorize.decorator.js';
