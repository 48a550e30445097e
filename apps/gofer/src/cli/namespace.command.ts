import { Command } from 'commander';
import type { ContextFor } from './context.js';
import { CliError } from './errors.js';
import { namespaceJson } from './json-view.js';
import { namespaceDetail, namespaceTable } from './plain-view.js';
import { parseCount } from './variables.js';

/** `gofer namespace …`: the namespaces pipelines, runs, objects and secrets live in. */
export function namespaceCommand(contextFor: ContextFor): Command {
  const namespace = new Command('namespace').description('create, inspect and delete namespaces').addHelpText(
    'after',
    `
Every other command works in one namespace: --namespace (GOFER_NAMESPACE), default "default".

Examples:
  $ gofer namespace create team-a --name "Team A" --description "Team A's pipelines"
  $ gofer namespace list
  $ gofer pipeline list -n team-a`,
  );

  namespace
    .command('list')
    .description('list the namespaces your token may use')
    .option('--limit <N>', 'at most N namespaces (0 = server default)', parseCount, 0)
    .option('--offset <N>', 'skip the first N namespaces', parseCount, 0)
    .addHelpText(
      'after',
      `
Examples:
  $ gofer namespace list
  $ gofer namespace list --limit 10 --offset 10 --output json`,
    )
    .action(async (opts: { limit: number; offset: number }, command: Command) => {
      const ctx = contextFor(command);
      const { namespaces } = await ctx.client.listNamespaces({ limit: opts.limit, offset: opts.offset });
      if (ctx.json) return ctx.printJson(namespaces.map(namespaceJson));
      ctx.print(namespaceTable(namespaces, Date.now()));
    });

  namespace
    .command('get')
    .description('show a namespace')
    .argument('<ID>', 'namespace id')
    .addHelpText(
      'after',
      `
Examples:
  $ gofer namespace get team-a
  $ gofer namespace get team-a --output json`,
    )
    .action(async (id: string, _opts: unknown, command: Command) => {
      const ctx = contextFor(command);
      const { namespace: found } = await ctx.client.getNamespace({ id });
      if (!found) throw new CliError(`Gofer returned no namespace for ${id}`);
      if (ctx.json) return ctx.printJson(namespaceJson(found));
      ctx.print(namespaceDetail(found, Date.now()));
    });

  namespace
    .command('create')
    .description('create a namespace (management tokens only)')
    .argument('<ID>', 'namespace id: 3-32 of a-z 0-9 _ -, starting with a letter or digit')
    .option('--name <NAME>', 'human-readable name (default: the id)')
    .option('--description <TEXT>', 'what the namespace is for')
    .addHelpText(
      'after',
      `
Examples:
  $ gofer namespace create team-a
  $ gofer namespace create team-a --name "Team A" --description "Team A's pipelines"`,
    )
    .action(async (id: string, opts: { name?: string; description?: string }, command: Command) => {
      const ctx = contextFor(command);
      const { namespace: created } = await ctx.client.createNamespace({
        id,
        name: opts.name ?? '',
        description: opts.description ?? '',
      });
      if (ctx.json) return ctx.printJson(created ? namespaceJson(created) : null);
      ctx.print(`created namespace ${id}`);
      ctx.hint(`use it: gofer pipeline apply FILE -n ${id}  (or export GOFER_NAMESPACE=${id})`);
    });

  namespace
    .command('delete')
    .description('delete an empty namespace; --force also deletes its pipelines')
    .argument('<ID>', 'namespace id')
    .option('--force', 'also delete its pipelines, with their runs, objects and secrets')
    .addHelpText(
      'after',
      `
Without --force a namespace that still holds pipelines is kept (the error says how many).
With --force everything in it is deleted; refused while runs are in flight.

Examples:
  $ gofer namespace delete team-a
  $ gofer namespace delete team-a --force`,
    )
    .action(async (id: string, opts: { force?: boolean }, command: Command) => {
      const ctx = contextFor(command);
      await ctx.client.deleteNamespace({ id, force: opts.force ?? false });
      if (ctx.json) return ctx.printJson({ id, deleted: true });
      ctx.print(`deleted namespace ${id}`);
    });

  return namespace;
}
