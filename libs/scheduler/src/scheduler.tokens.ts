/** Injection token of the process's {@link Scheduler} (see `createScheduler`). */
export const SCHEDULER = Symbol('SCHEDULER');
