import type { Command } from 'commander';
import { createGoferClient, type GoferClient } from '@gofer/proto';
import { UsageError } from './errors.js';

/** A stream the CLI writes to; `isTTY`/`columns` are set on terminals. */
export interface Output extends NodeJS.WritableStream {
  isTTY?: boolean;
  columns?: number;
}

/** Where the CLI reads and writes, injectable so commands run in-process in tests. */
export interface CliIo {
  stdout: Output;
  stderr: Output;
  stdin: NodeJS.ReadableStream;
  env: Readonly<Record<string, string | undefined>>;
}

export type OutputMode = 'plain' | 'json';

/** The global flags, after applying environment variables and defaults. */
export interface Globals {
  host: string;
  token: string | undefined;
  namespace: string;
  output: OutputMode;
}

export const DEFAULT_HOST = '127.0.0.1:8080';
export const DEFAULT_NAMESPACE = 'default';

/** Applies the precedence flag > environment > default to the global flags, and checks them. */
export function resolveGlobals(
  flags: { host?: string; token?: string; namespace?: string; output?: string },
  env: CliIo['env'],
): Globals {
  const output = flags.output ?? (env.GOFER_OUTPUT || 'plain');
  if (output !== 'plain' && output !== 'json') {
    const from = flags.output === undefined ? 'GOFER_OUTPUT' : '--output';
    throw new UsageError(`${from} must be "plain" or "json", not "${output}"`);
  }
  const host = flags.host ?? (env.GOFER_HOST || DEFAULT_HOST);
  if (!/^[^\s/]+:\d+$/.test(host) && !/^(unix|dns|ipv4|ipv6):/.test(host)) {
    throw new UsageError(`--host must be HOST:PORT (e.g. ${DEFAULT_HOST}), not "${host}"`);
  }
  return {
    host,
    token: flags.token ?? (env.GOFER_TOKEN || undefined),
    namespace: flags.namespace ?? (env.GOFER_NAMESPACE || DEFAULT_NAMESPACE),
    output,
  };
}

/** Gives a command's action its context (resolving the global flags on first use). */
export type ContextFor = (command: Command) => CliContext;

/** What a command's action works with: the resolved flags, output helpers and a lazily made client. */
export class CliContext {
  private goferClient: GoferClient | undefined;

  constructor(
    readonly io: CliIo,
    readonly globals: Globals,
  ) {}

  get json(): boolean {
    return this.globals.output === 'json';
  }

  /** The API client, connected on first use. */
  get client(): GoferClient {
    this.goferClient ??= createGoferClient({ address: this.globals.host, token: this.globals.token });
    return this.goferClient;
  }

  /** Writes a line (or lines) of plain output to stdout. */
  print(text: string): void {
    this.io.stdout.write(`${text}\n`);
  }

  /** Writes a value as JSON to stdout. */
  printJson(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Writes a next-step hint for a human at a terminal (stderr, so stdout stays parseable); scripts never see it. */
  hint(text: string): void {
    if (this.io.stderr.isTTY) this.io.stderr.write(`${text}\n`);
  }

  close(): void {
    this.goferClient?.close();
    this.goferClient = undefined;
  }
}
