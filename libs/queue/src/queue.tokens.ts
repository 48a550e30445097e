/** Injection token of the process's Redis connection (BullMQ's queues and the live task logs). */
export const REDIS = Symbol('REDIS');
