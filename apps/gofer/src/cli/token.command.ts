import { Command, Option } from 'commander';
import { TokenKind, type Token } from '@gofer/proto';
import { parseExpiry, parseMetadata, parseNamespaces } from './arguments.js';
import type { CliContext, ContextFor } from './context.js';
import { CliError, failUsage } from './errors.js';
import { tokenJson } from './json-view.js';
import { tokenDetail, tokenTable } from './plain-view.js';

interface CreateOptions {
  kind: 'management' | 'client';
  namespaces?: string[];
  metadata?: Record<string, string>;
  expires?: number;
}

/** `gofer token …`: issue, inspect, disable and delete API tokens. */
export function tokenCommand(contextFor: ContextFor): Command {
  const token = new Command('token').description('issue and manage API tokens').addHelpText(
    'after',
    `
A token is sent with every call (--token or GOFER_TOKEN). Management tokens may do everything;
client tokens only work in the namespaces they list. The first token comes from
gofer service token bootstrap.

Examples:
  $ gofer token create --namespaces team-a --metadata owner=ci --expires 30d
  $ gofer token whoami
  $ gofer token disable tok-3`,
  );

  token
    .command('create')
    .description('issue a token and print its secret (shown only this once)')
    .addOption(new Option('--kind <KIND>', 'management (everything) or client (listed namespaces)').choices(['management', 'client']).default('client'))
    .option('--namespaces <LIST>', 'namespaces of a client token: ids and /regex/, comma-separated (default: --namespace)', parseNamespaces)
    // No default value: commander would print it in --help as "(default: {})".
    .option('--metadata <KEY=VALUE>', 'label stored with the token, e.g. owner=ci (repeatable)', parseMetadata)
    .option('--expires <DURATION>', 'lifetime, e.g. 30d, 12h, 1d12h, 2w, or never (default: never)', parseExpiry)
    .addHelpText(
      'after',
      `
Prints only the secret on stdout, so it can be captured; --output json prints {token, secret}.

Examples:
  $ gofer token create                                   client token for the current namespace
  $ gofer token create --namespaces team-a,/staging-.*/ --expires 30d
  $ gofer token create --kind management --metadata owner=alice
  $ export GOFER_TOKEN=$(gofer token create -n team-a)`,
    )
    .action(async (opts: CreateOptions, command: Command) => {
      const ctx = contextFor(command);
      const management = opts.kind === 'management';
      if (management && opts.namespaces) {
        failUsage(command, '--namespaces is for client tokens: a management token may use every namespace');
      }
      const { token: issued, secret } = await ctx.client.createToken({
        kind: management ? TokenKind.TOKEN_KIND_MANAGEMENT : TokenKind.TOKEN_KIND_CLIENT,
        namespaces: management ? [] : (opts.namespaces ?? [ctx.globals.namespace]),
        metadata: opts.metadata ?? {},
        expiresInSeconds: opts.expires ?? 0,
      });
      printIssued(ctx, issued, secret);
    });

  token
    .command('list')
    .description('list every token (never their secrets)')
    .addHelpText(
      'after',
      `
Examples:
  $ gofer token list
  $ gofer token list --output json`,
    )
    .action(async (_opts: unknown, command: Command) => {
      const ctx = contextFor(command);
      const { tokens } = await ctx.client.listTokens({});
      if (ctx.json) return ctx.printJson(tokens.map(tokenJson));
      ctx.print(tokenTable(tokens, Date.now()));
    });

  token
    .command('get')
    .description('show a token')
    .argument('<ID>', 'token id (not its secret)')
    .addHelpText(
      'after',
      `
Examples:
  $ gofer token get tok-3
  $ gofer token get tok-3 --output json`,
    )
    .action(async (id: string, _opts: unknown, command: Command) => {
      const ctx = contextFor(command);
      const { token: found } = await ctx.client.getToken({ id });
      printToken(ctx, found, id);
    });

  token
    .command('whoami')
    .description('show the token this command runs with')
    .addHelpText(
      'after',
      `
Examples:
  $ gofer token whoami
  $ gofer token whoami --token "$CI_TOKEN" --output json`,
    )
    .action(async (_opts: unknown, command: Command) => {
      const ctx = contextFor(command);
      const { token: found } = await ctx.client.whoAmI({});
      printToken(ctx, found, 'the current token');
    });

  token
    .command('delete')
    .description('delete a token: calls made with it fail from now on')
    .argument('<ID>', 'token id')
    .addHelpText(
      'after',
      `
Examples:
  $ gofer token delete tok-3`,
    )
    .action(async (id: string, _opts: unknown, command: Command) => {
      const ctx = contextFor(command);
      await ctx.client.deleteToken({ id });
      if (ctx.json) return ctx.printJson({ id, deleted: true });
      ctx.print(`deleted token ${id}`);
    });

  for (const [name, description] of [
    ['enable', 'accept calls made with a disabled token again'],
    ['disable', 'refuse calls made with a token until it is enabled again'],
  ] as const) {
    token
      .command(name)
      .description(description)
      .argument('<ID>', 'token id')
      .addHelpText(
        'after',
        `
Examples:
  $ gofer token ${name} tok-3
  $ gofer token ${name} tok-3 --output json`,
      )
      .action(async (id: string, _opts: unknown, command: Command) => {
        const ctx = contextFor(command);
        if (name === 'enable') await ctx.client.enableToken({ id });
        else await ctx.client.disableToken({ id });
        if (ctx.json) {
          const { token: after } = await ctx.client.getToken({ id });
          return ctx.printJson(after ? tokenJson(after) : null);
        }
        ctx.print(`${name}d token ${id}`);
      });
  }

  return token;
}

/**
 * Prints a newly issued token: the bare secret on stdout (so `$(…)` captures it), or `{token, secret}`
 * as JSON; a person at a terminal also reads, on stderr, that the secret is shown only once.
 */
export function printIssued(ctx: CliContext, issued: Token | null, secret: string): void {
  if (!secret) throw new CliError('Gofer returned no token secret; try again');
  if (ctx.json) return ctx.printJson({ token: issued ? tokenJson(issued) : null, secret });
  ctx.print(secret);
  const what = issued ? `${issued.kind === TokenKind.TOKEN_KIND_MANAGEMENT ? 'management' : 'client'} token ${issued.id}` : 'token';
  ctx.hint(`issued ${what}; store the secret now, it is never shown again (use it with --token or GOFER_TOKEN)`);
}

function printToken(ctx: CliContext, found: Token | null, what: string): void {
  if (!found) throw new CliError(`Gofer returned no token for ${what}`);
  if (ctx.json) return ctx.printJson(tokenJson(found));
  ctx.print(tokenDetail(found, Date.now()));
}
