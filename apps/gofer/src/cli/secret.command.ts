import { Command } from 'commander';
import { GrpcStatus, isServiceError, type Secret } from '@gofer/proto';
import { parseNamespaces } from './arguments.js';
import type { CliContext, ContextFor } from './context.js';
import { CliError, failUsage } from './errors.js';
import { secretJson } from './json-view.js';
import { secretDetail, secretTable } from './plain-view.js';
import { readSecretValue } from './secret-input.js';

interface GetOptions {
  includeValue?: boolean;
  show?: boolean;
}

interface PutOptions {
  value?: string;
}

const VALUE_HELP = `
The value comes from --value, or else from stdin: typed at a terminal (not echoed), or piped in
(one trailing newline is removed). Prefer stdin: --value stays in your shell history.`;

/** `gofer secret …`: pipeline and global secrets. Values are shown only when asked for. */
export function secretCommand(contextFor: ContextFor): Command {
  const secret = new Command('secret').description('store secrets for tasks (pipeline or global)').addHelpText(
    'after',
    `
Tasks read secrets through pipeline_secret{{KEY}} and global_secret{{KEY}} in their variables;
values are masked in logs. Reading a value back needs --include-value and a token allowed to.

Examples:
  $ gofer secret pipeline put hello DEPLOY_TOKEN < token.txt
  $ gofer secret global put REGISTRY_PASS --namespaces team-a,/staging-.*/
  $ gofer secret pipeline list hello`,
  );
  secret.addCommand(pipelineSecrets(contextFor));
  secret.addCommand(globalSecrets(contextFor));
  return secret;
}

function pipelineSecrets(contextFor: ContextFor): Command {
  const pipeline = new Command('pipeline').description("a pipeline's secrets").addHelpText(
    'after',
    `
Examples:
  $ gofer secret pipeline put hello DEPLOY_TOKEN              type the value (hidden)
  $ printf %s "$TOKEN" | gofer secret pipeline put hello DEPLOY_TOKEN
  $ gofer secret pipeline get hello DEPLOY_TOKEN --show`,
  );

  pipeline
    .command('list')
    .description("list a pipeline's secrets (never their values)")
    .argument('<PIPELINE>', 'pipeline id')
    .addHelpText(
      'after',
      `
Examples:
  $ gofer secret pipeline list hello
  $ gofer secret pipeline list hello -n team-a --output json`,
    )
    .action(async (pipelineId: string, _opts: unknown, command: Command) => {
      const ctx = contextFor(command);
      const { secrets } = await ctx.client.listPipelineSecrets({ namespaceId: ctx.globals.namespace, pipelineId });
      if (ctx.json) return ctx.printJson(secrets.map((s) => secretJson(s)));
      const empty = `no secrets in pipeline ${pipelineId}: store one with gofer secret pipeline put ${pipelineId} KEY`;
      ctx.print(secretTable(secrets, Date.now(), false, empty));
    });

  withValueFlags(
    pipeline
      .command('get')
      .description("show a pipeline secret's metadata, or its value with --include-value")
      .argument('<PIPELINE>', 'pipeline id')
      .argument('<KEY>', 'secret key'),
  )
    .addHelpText(
      'after',
      `
Examples:
  $ gofer secret pipeline get hello DEPLOY_TOKEN
  $ gofer secret pipeline get hello DEPLOY_TOKEN --show
  $ export DEPLOY_TOKEN=$(gofer secret pipeline get hello DEPLOY_TOKEN --include-value)`,
    )
    .action(async (pipelineId: string, key: string, opts: GetOptions, command: Command) => {
    const ctx = contextFor(command);
    const includeValue = Boolean(opts.includeValue || opts.show);
    const { secret: found } = await ctx.client.getPipelineSecret({
      namespaceId: ctx.globals.namespace,
      pipelineId,
      key,
      includeValue,
    });
    printSecret(ctx, found, includeValue, `secret ${key} of pipeline ${pipelineId}`, false);
  });

  pipeline
    .command('put')
    .description('store (or replace) a pipeline secret')
    .argument('<PIPELINE>', 'pipeline id')
    .argument('<KEY>', 'secret key')
    .option('--value <VALUE>', 'the value (else read from stdin)')
    .addHelpText(
      'after',
      `${VALUE_HELP}

Examples:
  $ gofer secret pipeline put hello DEPLOY_TOKEN              type the value (hidden)
  $ gofer secret pipeline put hello DEPLOY_TOKEN < token.txt
  $ printf %s "$TOKEN" | gofer secret pipeline put hello DEPLOY_TOKEN`,
    )
    .action(async (pipelineId: string, key: string, opts: PutOptions, command: Command) => {
      const ctx = contextFor(command);
      const value = await valueOf(ctx, command, opts, key);
      const { secret: stored } = await ctx.client.putPipelineSecret({ namespaceId: ctx.globals.namespace, pipelineId, key, value });
      if (ctx.json) return ctx.printJson(stored ? secretJson(stored) : null);
      ctx.print(`stored secret ${key} in pipeline ${pipelineId}`);
    });

  pipeline
    .command('delete')
    .description('delete a pipeline secret')
    .argument('<PIPELINE>', 'pipeline id')
    .argument('<KEY>', 'secret key')
    .addHelpText(
      'after',
      `
Examples:
  $ gofer secret pipeline delete hello DEPLOY_TOKEN`,
    )
    .action(async (pipelineId: string, key: string, _opts: unknown, command: Command) => {
      const ctx = contextFor(command);
      await ctx.client.deletePipelineSecret({ namespaceId: ctx.globals.namespace, pipelineId, key });
      if (ctx.json) return ctx.printJson({ key, deleted: true });
      ctx.print(`deleted secret ${key} of pipeline ${pipelineId}`);
    });

  return pipeline;
}

function globalSecrets(contextFor: ContextFor): Command {
  const global = new Command('global').description('secrets shared by namespaces (management tokens only)').addHelpText(
    'after',
    `
Examples:
  $ gofer secret global put REGISTRY_PASS --namespaces team-a,/staging-.*/
  $ gofer secret global list
  $ gofer secret global get REGISTRY_PASS`,
  );

  global
    .command('list')
    .description('list global secrets and the namespaces allowed to use them (never their values)')
    .addHelpText(
      'after',
      `
Examples:
  $ gofer secret global list
  $ gofer secret global list --output json`,
    )
    .action(async (_opts: unknown, command: Command) => {
      const ctx = contextFor(command);
      const { secrets } = await ctx.client.listGlobalSecrets({});
      if (ctx.json) return ctx.printJson(secrets.map((s) => secretJson(s)));
      ctx.print(secretTable(secrets, Date.now(), true, 'no global secrets: store one with gofer secret global put KEY --namespaces LIST'));
    });

  withValueFlags(
    global
      .command('get')
      .description("show a global secret's metadata, or its value with --include-value")
      .argument('<KEY>', 'secret key'),
  )
    .addHelpText(
      'after',
      `
Examples:
  $ gofer secret global get REGISTRY_PASS
  $ gofer secret global get REGISTRY_PASS --show`,
    )
    .action(async (key: string, opts: GetOptions, command: Command) => {
    const ctx = contextFor(command);
    const includeValue = Boolean(opts.includeValue || opts.show);
    const { secret: found } = await ctx.client.getGlobalSecret({ key, includeValue });
    printSecret(ctx, found, includeValue, `global secret ${key}`, true);
  });

  global
    .command('put')
    .description('store (or replace) a global secret and the namespaces allowed to use it')
    .argument('<KEY>', 'secret key')
    .option(
      '--namespaces <LIST>',
      'namespaces allowed to use it: ids and /regex/, comma-separated (default: those it has, or --namespace for a new one)',
      parseNamespaces,
    )
    .option('--value <VALUE>', 'the value (else read from stdin)')
    .addHelpText(
      'after',
      `${VALUE_HELP}
Without --namespaces, replacing a secret keeps the namespaces it had; a new one is allowed in
--namespace only.

Examples:
  $ gofer secret global put REGISTRY_PASS --namespaces team-a,/staging-.*/ < pass.txt
  $ gofer secret global put REGISTRY_PASS                     new value, same namespaces`,
    )
    .action(async (key: string, opts: PutOptions & { namespaces?: string[] }, command: Command) => {
      const ctx = contextFor(command);
      const value = await valueOf(ctx, command, opts, key);
      const namespaces = opts.namespaces ?? (await currentNamespaces(ctx, key)) ?? [ctx.globals.namespace];
      const { secret: stored } = await ctx.client.putGlobalSecret({ key, value, namespaces });
      if (ctx.json) return ctx.printJson(stored ? secretJson(stored) : null);
      ctx.print(`stored global secret ${key} for namespaces ${namespaces.join(',')}`);
    });

  global
    .command('delete')
    .description('delete a global secret')
    .argument('<KEY>', 'secret key')
    .addHelpText(
      'after',
      `
Examples:
  $ gofer secret global delete REGISTRY_PASS`,
    )
    .action(async (key: string, _opts: unknown, command: Command) => {
      const ctx = contextFor(command);
      await ctx.client.deleteGlobalSecret({ key });
      if (ctx.json) return ctx.printJson({ key, deleted: true });
      ctx.print(`deleted global secret ${key}`);
    });

  return global;
}

function withValueFlags(command: Command): Command {
  return command
    .option('--include-value', 'print the value (needs a token allowed to read it)')
    .option('--show', 'same as --include-value')
    .addHelpText(
      'after',
      `
With --include-value (or --show) only the value is printed, followed by a newline, so that
$(gofer secret … --show) captures it; --output json prints the metadata with "value".`,
    );
}

function printSecret(ctx: CliContext, found: Secret | null, includeValue: boolean, title: string, global: boolean): void {
  if (!found) throw new CliError(`Gofer returned no ${title}`);
  if (ctx.json) return ctx.printJson(secretJson(found, includeValue));
  if (includeValue) return ctx.print(found.value);
  ctx.print(secretDetail(found, title, global, Date.now()));
}

async function valueOf(ctx: CliContext, command: Command, opts: PutOptions, key: string): Promise<string> {
  if (opts.value === undefined) return readSecretValue(ctx.io, `value of ${key} (not shown): `);
  if (opts.value === '') failUsage(command, '--value is empty: pass the value, or leave --value out and pipe it into stdin');
  return opts.value;
}

/** The namespaces a global secret already has, so replacing its value keeps them; undefined for a new one. */
async function currentNamespaces(ctx: CliContext, key: string): Promise<string[] | undefined> {
  try {
    const { secret: existing } = await ctx.client.getGlobalSecret({ key, includeValue: false });
    return existing && existing.namespaces.length > 0 ? existing.namespaces : undefined;
  } catch (err) {
    if (isServiceError(err) && err.code === GrpcStatus.NOT_FOUND) return undefined;
    throw err;
  }
}
