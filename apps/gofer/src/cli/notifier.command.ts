import { Command } from 'commander';
import type { ContextFor } from './context.js';
import { CliError } from './errors.js';
import { notifierJson } from './json-view.js';
import { notifierDetail, notifierTable } from './plain-view.js';
import { settingParser } from './variables.js';

/** `gofer notifier …`: the notifiers pipelines run after each run (docs/design.md §6). */
export function notifierCommand(contextFor: ContextFor): Command {
  const notifier = new Command('notifier').description('install and inspect notifiers, run after each run of the pipelines that list them').addHelpText(
    'after',
    `
A notifier is a container image Gofer runs once per pipeline "notifiers:" entry after each run
completes, with GOFER_RUN_STATUS, GOFER_RUN_SUMMARY (JSON) and GOFER_NOTIFIER_CONFIG_<KEY> from its
settings. Its outcome shows in gofer run get; it never changes the run's status. The built-ins are
"log" and "webhook".

Examples:
  $ gofer notifier list
  $ gofer notifier install team-hook --image gofer/notifier-webhook:0.1.0 --setting url=https://ci.example.com/hook --setting secret=s3cr3t
  $ gofer notifier get team-hook`,
  );

  notifier
    .command('install')
    .description('install a notifier, or update the image and settings of an installed one (management tokens only)')
    .argument('<NAME>', 'what pipelines write in notifiers[].notifier: 1-32 of a-z 0-9 _ -, starting with a letter or digit')
    .requiredOption('--image <IMAGE>', 'the notifier\'s container image')
    // No default value: commander would print it in --help as "(default: {})".
    .option('--setting <KEY=VALUE>', 'a default for GOFER_NOTIFIER_CONFIG_<KEY>, stored sealed (repeatable)', settingParser('url=https://example.com/hook'))
    .addHelpText(
      'after',
      `
Settings are defaults: a pipeline's notifiers[].settings override them. Their values are stored
sealed with GOFER_ENCRYPTION_KEY and never shown again.

Examples:
  $ gofer notifier install team-hook --image gofer/notifier-webhook:0.1.0 --setting url=https://ci.example.com/hook
  $ gofer notifier install slack --image registry.example.com/notify-slack:2 --setting token=xoxb-123`,
    )
    .action(async (name: string, opts: { image: string; setting?: Record<string, string> }, command: Command) => {
      const ctx = contextFor(command);
      const { notifier: installed } = await ctx.client.installNotifier({ name, image: opts.image, settings: opts.setting ?? {} });
      if (!installed) throw new CliError(`Gofer returned no notifier for ${name}`);
      if (ctx.json) return ctx.printJson(notifierJson(installed));
      ctx.print(`installed notifier ${name} (${installed.image})`);
      ctx.hint(`use it in a pipeline: notifiers: [{ notifier: ${name}, label: LABEL }]`);
    });

  notifier
    .command('uninstall')
    .description('remove a notifier; refused while a pipeline lists it (management tokens only)')
    .argument('<NAME>', 'notifier name')
    .addHelpText(
      'after',
      `
Examples:
  $ gofer notifier uninstall team-hook`,
    )
    .action(async (name: string, _opts: unknown, command: Command) => {
      const ctx = contextFor(command);
      await ctx.client.uninstallNotifier({ name });
      if (ctx.json) return ctx.printJson({ name, uninstalled: true });
      ctx.print(`uninstalled notifier ${name}`);
    });

  notifier
    .command('list')
    .description('list the installed notifiers')
    .addHelpText(
      'after',
      `
Examples:
  $ gofer notifier list
  $ gofer notifier list --output json`,
    )
    .action(async (_opts: unknown, command: Command) => {
      const ctx = contextFor(command);
      const { notifiers } = await ctx.client.listNotifiers({});
      if (ctx.json) return ctx.printJson(notifiers.map(notifierJson));
      ctx.print(notifierTable(notifiers, Date.now()));
    });

  notifier
    .command('get')
    .description('show an installed notifier (the keys of its settings, never their values)')
    .argument('<NAME>', 'notifier name')
    .addHelpText(
      'after',
      `
Examples:
  $ gofer notifier get webhook
  $ gofer notifier get webhook --output json`,
    )
    .action(async (name: string, _opts: unknown, command: Command) => {
      const ctx = contextFor(command);
      const { notifier: found } = await ctx.client.getNotifier({ name });
      if (!found) throw new CliError(`Gofer returned no notifier for ${name}`);
      if (ctx.json) return ctx.printJson(notifierJson(found));
      ctx.print(notifierDetail(found, Date.now()));
    });

  return notifier;
}
