import { createInterface } from 'node:readline/promises';
import { Command, InvalidArgumentError } from 'commander';
import type { CliContext, ContextFor } from './context.js';
import { CliError } from './errors.js';
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
    .option('--reset-dev-data', 'first delete the Postgres and Redis data of the development containers (asks to confirm)')
    .option('-y, --yes', 'with --reset-dev-data: do not ask')
    .addHelpText(
      'after',
      `
The default runs both roles in one process (single-machine mode). A cluster runs API replicas
(--roles api) and worker replicas (--roles worker) of the same program.

In single-machine mode, with GOFER_DATABASE_URL / GOFER_REDIS_URL unset and nothing answering on
127.0.0.1:5432 / :6379, Gofer starts Postgres and Redis itself as Docker containers (gofer-dev-postgres,
gofer-dev-redis) with named volumes, and reuses them on the next start; they keep running when Gofer
stops (gofer service dev stop|rm). GOFER_DEV_SERVICES=off turns this off.

Examples:
  $ gofer service start
  $ gofer service start --reset-dev-data     start over with empty development data
  $ GOFER_DATABASE_URL=postgres://postgres@127.0.0.1/gofer gofer service start --roles worker`,
    )
    .action(async (opts: { roles: ServiceRole[]; resetDevData?: boolean; yes?: boolean }, command: Command) => {
      if (opts.resetDevData) {
        const ctx = contextFor(command);
        await confirm(ctx, opts.yes, 'delete the data of the development Postgres and Redis (every pipeline, run, secret and queued task in them)');
        const { removeDevServices } = await import('../service/dev-services.js');
        for (const removed of await devCall(() => removeDevServices({ data: true }))) ctx.hint(`removed ${removed}`);
      }
      // Loaded on demand: CLI commands never pay for NestJS, TypeORM and BullMQ.
      const { startService } = await import('../service/start.js');
      await startService({ roles: opts.roles });
    });

  const dev = service
    .command('dev')
    .description('the Postgres and Redis containers single-machine mode starts (see service start --help)')
    .addHelpText(
      'after',
      `
Examples:
  $ gofer service dev list
  $ gofer service dev stop                   stop them (gofer service start starts them again)
  $ gofer service dev rm                     remove the containers, keep their data volumes
  $ gofer service dev rm --data              remove the data too (asks to confirm)`,
    );
  dev
    .command('list')
    .description('show the development containers and their data volumes')
    .addHelpText('after', `
Examples:
  $ gofer service dev list
  $ gofer service dev list --output json`)
    .action(async (_opts: unknown, command: Command) => {
      const ctx = contextFor(command);
      const { listDevServices } = await import('../service/dev-services.js');
      const services = await devCall(() => listDevServices());
      if (ctx.json) return ctx.printJson(services);
      if (services.length === 0) return ctx.print('no development containers or volumes');
      for (const s of services) {
        ctx.print(`${s.kind.padEnd(9)}${(s.container || '-').padEnd(28)}${s.state.padEnd(22)}${s.port ? `127.0.0.1:${s.port}` : ''}  ${s.image}  volume ${s.volume || '-'}`);
      }
    });
  dev
    .command('stop')
    .description('stop the development containers (their data stays)')
    .addHelpText('after', `
gofer service start starts them again.

Examples:
  $ gofer service dev stop`)
    .action(async (_opts: unknown, command: Command) => {
      const ctx = contextFor(command);
      const { stopDevServices } = await import('../service/dev-services.js');
      const stopped = await devCall(() => stopDevServices());
      if (ctx.json) return ctx.printJson(stopped);
      ctx.print(stopped.length ? `stopped ${stopped.join(', ')}` : 'no development container was running');
    });
  dev
    .command('rm')
    .description('remove the development containers; with --data their volumes too')
    .option('--data', 'also delete their data volumes (asks to confirm)')
    .option('-y, --yes', 'with --data: do not ask')
    .addHelpText('after', `
Without --data the volumes stay, and the next gofer service start makes new containers on them.

Examples:
  $ gofer service dev rm
  $ gofer service dev rm --data              asks before deleting every pipeline, run and secret in them
  $ gofer service dev rm --data --yes        in a script`)
    .action(async (opts: { data?: boolean; yes?: boolean }, command: Command) => {
      const ctx = contextFor(command);
      if (opts.data) await confirm(ctx, opts.yes, 'delete the data of the development Postgres and Redis (every pipeline, run, secret and queued task in them)');
      const { removeDevServices } = await import('../service/dev-services.js');
      const removed = await devCall(() => removeDevServices({ data: opts.data ?? false }));
      if (ctx.json) return ctx.printJson(removed);
      ctx.print(removed.length ? `removed ${removed.join(', ')}` : 'nothing to remove');
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

/** Asks before `what` at a terminal; without one, --yes is required. */
async function confirm(ctx: CliContext, yes: boolean | undefined, what: string): Promise<void> {
  if (yes) return;
  if (!(ctx.io.stdin as { isTTY?: boolean }).isTTY) throw new CliError(`refusing to ${what} without confirmation: add --yes`);
  const prompt = createInterface({ input: ctx.io.stdin, output: ctx.io.stderr });
  try {
    const answer = await prompt.question(`This will ${what}. Type "yes" to go on: `);
    if (answer.trim() !== 'yes') throw new CliError('nothing deleted');
  } finally {
    prompt.close();
  }
}

/** Runs a development-services call, turning its one-line startup and configuration errors into CLI errors. */
async function devCall<T>(call: () => Promise<T>): Promise<T> {
  const [{ StartupError }, { ConfigError }] = await Promise.all([import('../service/infrastructure.js'), import('@gofer/config')]);
  try {
    return await call();
  } catch (error) {
    if (error instanceof StartupError || error instanceof ConfigError) throw new CliError(error.message);
    throw error;
  }
}
