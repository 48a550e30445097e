/** Injection tokens for the infrastructure the engine is handed at startup. */
export const DATA_SOURCE = Symbol('DATA_SOURCE');
export const REDIS = Symbol('REDIS');
export const SCHEDULER = Symbol('SCHEDULER');
export const TASK_LOGS = Symbol('TASK_LOGS');
export const LOGGER = Symbol('LOGGER');
export const OBJECT_STORE = Symbol('OBJECT_STORE');
