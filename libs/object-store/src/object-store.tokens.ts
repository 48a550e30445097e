/** Injection token of the process's {@link ObjectStore} (see `createObjectStore`). */
export const OBJECT_STORE = Symbol('OBJECT_STORE');
