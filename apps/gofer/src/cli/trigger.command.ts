import { Command } from 'commander';
import type { ContextFor } from './context.js';
import { CliError } from './errors.js';
import { triggerJson } from './json-view.js';
import { triggerDetail, triggerTable } from './plain-view.js';
import { settingParser } from './variables.js';

/** `gofer trigger …`: install, inspect and remove triggers (docs/triggers.md). */
export function triggerCommand(contextFor: ContextFor): Command {
  const trigger = new Command('trigger').description('install, inspect and uninstall triggers (what starts runs on its own)').addHelpText(
    'after',
    `
A trigger is a long-running container that starts runs: cron, interval and github are built in.
Pipelines use one by name in their config:
  triggers:
    - trigger: cron
      label: nightly
      settings: { expression: "0 3 * * *", timezone: Europe/Berlin }

Examples:
  $ gofer trigger list
  $ gofer trigger get cron
  $ gofer trigger install my-trigger --image registry.example.com/my-trigger:1.0 --setting token=abc`,
  );

  trigger
    .command('list')
    .description('list installed triggers and their state')
    .addHelpText('after', `
Examples:
  $ gofer trigger list
  $ gofer trigger list --output json`)
    .action(async (_opts: unknown, command: Command) => {
      const ctx = contextFor(command);
      const { triggers } = await ctx.client.listTriggers({});
      if (ctx.json) return ctx.printJson(triggers.map(triggerJson));
      ctx.print(triggerTable(triggers, Date.now()));
    });

  trigger
    .command('get')
    .description('show a trigger: state, container, address, subscriptions, last event and error')
    .argument('<NAME>', 'trigger name')
    .addHelpText('after', `
Examples:
  $ gofer trigger get cron
  $ gofer trigger get github --output json`)
    .action(async (name: string, _opts: unknown, command: Command) => {
      const ctx = contextFor(command);
      const { trigger: found } = await ctx.client.getTrigger({ name });
      if (!found) throw new CliError(`Gofer returned no trigger for ${name}`);
      if (ctx.json) return ctx.printJson(triggerJson(found));
      ctx.print(triggerDetail(found, Date.now()));
    });

  trigger
    .command('install')
    .description('install a trigger, or update an installed one (management tokens only)')
    .argument('<NAME>', 'trigger name: 1-32 of a-z 0-9 _ -, what pipelines write in triggers[].trigger')
    .requiredOption('--image <IMAGE>', 'the container image that serves the trigger (see libs/sdk)')
    .option('--setting <KEY=VALUE>', 'an install setting, passed as GOFER_TRIGGER_SETTING_<KEY> (repeatable)', settingParser('min_interval=30s'), {})
    .addHelpText('after', `
Installing again with the same name replaces the image and settings; the container is replaced.

Examples:
  $ gofer trigger install interval --image gofer/trigger-interval:0.1.0 --setting min_interval=10s`)
    .action(async (name: string, opts: { image: string; setting: Record<string, string> }, command: Command) => {
      const ctx = contextFor(command);
      const { trigger: installed } = await ctx.client.installTrigger({ name, image: opts.image, settings: opts.setting });
      if (ctx.json) return ctx.printJson(installed ? triggerJson(installed) : null);
      ctx.print(`installed trigger ${name} (${opts.image}); its container starts shortly: gofer trigger get ${name}`);
    });

  trigger
    .command('uninstall')
    .description('stop and remove a trigger; refused while pipelines use it (management tokens only)')
    .argument('<NAME>', 'trigger name')
    .addHelpText('after', `
Its container is asked to shut down and removed. Remove the trigger from every pipeline config that
names it (or delete those pipelines) first.

Examples:
  $ gofer trigger uninstall my-trigger`)
    .action(async (name: string, _opts: unknown, command: Command) => {
      const ctx = contextFor(command);
      await ctx.client.uninstallTrigger({ name });
      if (ctx.json) return ctx.printJson({ name, uninstalled: true });
      ctx.print(`uninstalled trigger ${name}`);
    });

  return trigger;
}
