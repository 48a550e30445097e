import { Command, InvalidArgumentError } from 'commander';
import type { ContextFor } from './context.js';
import { printIssued } from './token.command.js';

/** What a service process runs: the gRPC/HTTP API, the task workers, or both. */
export type ServiceRole = 'api' | 'worker';

const ROLES: readonly ServiceRole[] = ['api', 'worker'];

/** Commander argument parser for `--roles api,worker`: known roles, at least one, no repeats kept. */
export function parseRoles(arg: string): ServiceRole[] {
  const names = arg.split(',').map((name) => name.trim()).filter(Boolean);
  if (names.length === 0) throw new InvalidArgumentError('name at least one role: api, worker');
  const unknown = names.filter((name) => !ROLES.includes(name as ServiceRole));
  if (unknown.length > 0) {
    throw new InvalidArgumentError(`unknown role ${unknown.map((n) => `"${n}"`).join(', ')}: roles are api, worker`);
  }
  return [...new Set(names as ServiceRole[])];
}

/** `gofer service …`: run the Gofer service itself, and issue its first token. */
export function serviceCommand(contextFor: ContextFor): Command {
  const service = new Command('service').description('run the Gofer service, and issue its first token').addHelpText(
    'after',
    `
Examples:
  $ gofer service start                      API and workers in one process
  $ gofer service start --roles api
  $ export GOFER_TOKEN=$(gofer service token bootstrap)`,
  );

  service
    .command('start')
    .description('start the service (configured by GOFER_* environment variables)')
    .option('--roles <ROLES>', 'comma-separated roles this process runs: api, worker', parseRoles, [...ROLES])
    .addHelpText(
      'after',
      `
The default runs both roles in one process (single-machine mode). A cluster runs API replicas
(--roles api) and worker replicas (--roles worker) of the same program.

Examples:
  $ gofer service start
  $ GOFER_DATABASE_URL=postgres://postgres@127.0.0.1/gofer gofer service start --roles worker`,
    )
    .action(async (opts: { roles: ServiceRole[] }) => {
      // Loaded on demand: CLI commands never pay for NestJS, TypeORM and BullMQ.
      const { startService } = await import('../service/start.js');
      await startService({ roles: opts.roles });
    });

  service
    .command('rotate-key')
    .description('re-seal every secret with a new encryption key, while the service runs')
    .addHelpText(
      'after',
      `
Connects to the database (GOFER_DATABASE_URL) and re-seals every secret with GOFER_ENCRYPTION_KEY.
GOFER_PREVIOUS_ENCRYPTION_KEYS must list the key(s) the secrets are sealed with now. The service keeps
serving throughout. A rotation, step by step:
  1. every replica: GOFER_PREVIOUS_ENCRYPTION_KEYS=<new key>  (restart; they can now read both)
  2. every replica: GOFER_ENCRYPTION_KEY=<new key>, GOFER_PREVIOUS_ENCRYPTION_KEYS=<old key>  (restart)
  3. gofer service rotate-key  (with the same two variables)
  4. every replica: drop GOFER_PREVIOUS_ENCRYPTION_KEYS  (restart)

Examples:
  $ GOFER_ENCRYPTION_KEY=$NEW GOFER_PREVIOUS_ENCRYPTION_KEYS=$OLD gofer service rotate-key
  $ gofer service rotate-key                 with both variables already in the environment`,
    )
    .action(async () => {
      const { rotateKey } = await import('../service/rotate-key.js');
      const { StartupError } = await import('../service/infrastructure.js');
      const { ConfigError } = await import('@gofer/config');
      try {
        const resealed = await rotateKey();
        process.stdout.write(`re-sealed ${resealed} secret(s) with the current key\n`);
      } catch (error) {
        if (error instanceof StartupError || error instanceof ConfigError) {
          process.stderr.write(`gofer: ${error.message}\n`);
          process.exit(1);
        }
        throw error;
      }
    });

  const token = service
    .command('token')
    .description("the service's first token")
    .addHelpText(
      'after',
      `
Examples:
  $ export GOFER_TOKEN=$(gofer service token bootstrap)
  $ gofer service token bootstrap --output json`,
    );
  token
    .command('bootstrap')
    .description('issue the first management token of a new service (works once)')
    .addHelpText(
      'after',
      `
Calls the service at --host without any token and prints the secret of its first management token
on stdout; --output json prints {token, secret}. It works exactly once per service: store the secret
(it is never shown again), then issue more tokens with gofer token create.

Examples:
  $ export GOFER_TOKEN=$(gofer service token bootstrap)
  $ gofer service token bootstrap --host gofer.internal:8080 --output json`,
    )
    .action(async (_opts: unknown, command: Command) => {
      const ctx = contextFor(command);
      const { token: issued, secret } = await ctx.client.bootstrapToken({});
      printIssued(ctx, issued, secret);
    });

  return service;
}
