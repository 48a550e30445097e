import { Command, InvalidArgumentError } from 'commander';

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

/** `gofer service …`: run the Gofer service itself. */
export function serviceCommand(): Command {
  const service = new Command('service').description('run the Gofer service');

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

  return service;
}
