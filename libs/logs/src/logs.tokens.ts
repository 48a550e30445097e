/** Injection token of the process's `TaskLogs` (live logs in Redis, archives in the object store). */
export const TASK_LOGS = Symbol('TASK_LOGS');
