import { once } from 'node:events';
import { Command } from 'commander';
import type { ContextFor, Output } from './context.js';
import { eventJson } from './json-view.js';
import { eventLine } from './plain-view.js';
import { parseCount } from './variables.js';
import { resuming } from './resume.js';

/** `gofer event …`: what happened in Gofer, as it happens. */
export function eventCommand(contextFor: ContextFor): Command {
  const event = new Command('event').description('read and follow what happens in Gofer').addHelpText(
    'after',
    `
Examples:
  $ gofer event list --follow
  $ gofer event list --after 1200 --namespace-only -o json | jq .kind`,
  );

  event
    .command('list')
    .description('print stored events, oldest first; --follow keeps printing new ones')
    .option('-f, --follow', 'keep the stream open and print events as they happen (Ctrl-C stops)')
    .option('--after <ID>', 'only events after this id (resume where you stopped)', parseCount, 0)
    .option('--namespace-only', 'only events of --namespace (default: every namespace your token may see)')
    .addHelpText(
      'after',
      `
One event per line: time, #id, kind, where (namespace/pipeline, run, task) and details.
With --output json, one JSON object per line (JSON Lines), so the output can be read while it streams:
{"id","kind","namespace","pipeline","run","task","details","emitted"}.

Examples:
  $ gofer event list
  $ gofer event list --follow --namespace-only -n team-a
  $ gofer event list --after 1200 -o json`,
    )
    .action(async (opts: { follow?: boolean; after: number; namespaceOnly?: boolean }, command: Command) => {
      const ctx = contextFor(command);
      // Kept up to date as events arrive, so a stream lost with its API replica resumes right after them.
      let afterId = opts.after;
      const stream = resuming(
        () => ctx.client.listEvents({ afterId, follow: opts.follow ?? false, namespaceId: opts.namespaceOnly ? ctx.globals.namespace : '', skipExisting: false, last: 0 }),
        { onReconnect: (reason) => ctx.hint(`lost the event stream (${reason}); resuming after event ${afterId}`) },
      );
      for await (const { event: e } of stream) {
        if (!e) continue;
        afterId = e.id;
        await writeLine(ctx.io.stdout, ctx.json ? JSON.stringify(eventJson(e)) : eventLine(e));
      }
    });

  return event;
}

/** Writes a line, waiting while the reader is slow so a long stream never piles up in memory. */
async function writeLine(out: Output, line: string): Promise<void> {
  if (!out.write(`${line}\n`)) await once(out, 'drain');
}
