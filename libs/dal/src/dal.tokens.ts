/** Injection token of the process's TypeORM data source (opened by `openDataSource`). */
export const DATA_SOURCE = Symbol('DATA_SOURCE');
