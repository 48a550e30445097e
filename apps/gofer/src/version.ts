import { createRequire } from 'node:module';

/** Gofer's version, from the root package.json. */
export const GOFER_VERSION: string = (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;
