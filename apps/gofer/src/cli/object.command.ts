import { Command } from 'commander';
import type { ObjectInfo, UploadBody } from '@gofer/proto';
import { parseObjectKey } from './arguments.js';
import type { CliContext, ContextFor } from './context.js';
import { formatBytes } from './format.js';
import { objectJson } from './json-view.js';
import { objectTable } from './plain-view.js';
import { downloadTo, uploadFrom, type DownloadPart } from './transfer.js';
import { parseRunId } from './variables.js';

/** Where objects live: a pipeline's (kept across runs) or a run's (deleted with old runs). */
export type ObjectScope = 'pipeline' | 'run';

/** The object RPCs of one pipeline or one run, behind one shape so each subcommand is written once. */
interface ObjectStore {
  /** `pipeline hello`, `run 3 of hello`: how messages name the place. */
  label: string;
  /** The scope's arguments as typed, for hints: `hello`, `hello 3`. */
  args: string;
  list(): Promise<ObjectInfo[]>;
  get(key: string): AsyncIterable<DownloadPart>;
  put(key: string, body: UploadBody): Promise<{ object: ObjectInfo | null; evicted?: string[] }>;
  delete(key: string): Promise<void>;
}

function storeOf(ctx: CliContext, scope: ObjectScope, pipelineId: string, runId: number): ObjectStore {
  const namespaceId = ctx.globals.namespace;
  const client = ctx.client;
  if (scope === 'pipeline') {
    return {
      label: `pipeline ${pipelineId}`,
      args: pipelineId,
      list: async () => (await client.listPipelineObjects({ namespaceId, pipelineId })).objects,
      get: (key) => client.getPipelineObject({ namespaceId, pipelineId, key }),
      put: (key, body) => client.putPipelineObject({ namespaceId, pipelineId, key }, body),
      delete: async (key) => void (await client.deletePipelineObject({ namespaceId, pipelineId, key })),
    };
  }
  return {
    label: `run ${runId} of ${pipelineId}`,
    args: `${pipelineId} ${runId}`,
    list: async () => (await client.listRunObjects({ namespaceId, pipelineId, runId })).objects,
    get: (key) => client.getRunObject({ namespaceId, pipelineId, runId, key }),
    put: (key, body) => client.putRunObject({ namespaceId, pipelineId, runId, key }, body),
    delete: async (key) => void (await client.deleteRunObject({ namespaceId, pipelineId, runId, key })),
  };
}

/**
 * `gofer pipeline object …` and `gofer run object …`: list, download, upload and delete objects.
 * Content streams both ways; nothing holds a whole object in memory.
 */
export function objectCommand(scope: ObjectScope, contextFor: ContextFor): Command {
  const parent = scope === 'pipeline' ? 'gofer pipeline object' : 'gofer run object';
  const eg = scope === 'pipeline' ? 'hello' : 'hello 3';
  const withScope = (command: Command): Command => {
    command.argument('<PIPELINE>', 'pipeline id');
    return scope === 'run' ? command.argument('<RUN>', 'run id', parseRunId) : command;
  };
  // Commander calls an action with the arguments, the options, then the command; reading the
  // arguments (already parsed) from command.processedArgs lets one action serve both scopes.
  const context = (args: unknown[]) => {
    const command = args.at(-1) as Command;
    const ctx = contextFor(command);
    const [pipelineId, runId, ...rest] =
      scope === 'pipeline' ? [command.processedArgs[0], 0, ...command.processedArgs.slice(1)] : command.processedArgs;
    return { ctx, store: storeOf(ctx, scope, pipelineId as string, runId as number), rest: rest as Array<string | undefined> };
  };

  const object = new Command('object')
    .description(
      scope === 'pipeline'
        ? "store files with a pipeline (kept across runs; the oldest are evicted past the pipeline's limit)"
        : "store files with a run (deleted when the run falls out of the pipeline's last runs)",
    )
    .addHelpText(
      'after',
      `
Tasks read objects through ${scope}_object{{KEY}} in their variables.

Examples:
  $ ${parent} put ${eg} report.tar ./report.tar
  $ tar c dist | ${parent} put ${eg} dist.tar
  $ ${parent} get ${eg} report.tar ./out/
  $ ${parent} list ${eg}`,
    );

  withScope(object.command('list').description(`list the objects of a ${scope}, newest first`))
    .addHelpText(
      'after',
      `
Examples:
  $ ${parent} list ${eg}
  $ ${parent} list ${eg} --output json`,
    )
    .action(async (...args: unknown[]) => {
      const { ctx, store } = context(args);
      const objects = await store.list();
      if (ctx.json) return ctx.printJson(objects.map(objectJson));
      ctx.print(objectTable(objects, Date.now(), `no objects in ${store.label}: store one with ${parent} put ${store.args} KEY FILE`));
    });

  withScope(object.command('get').description('download an object to a file, a directory, or stdout'))
    .argument('<KEY>', 'object key', parseObjectKey)
    .argument('[FILE]', 'file or directory to write; - or nothing writes to stdout')
    .addHelpText(
      'after',
      `
The content is checked against the size and SHA-256 Gofer stored; a file appears only once the
whole object arrived intact. With FILE and --output json, prints the object's info as JSON.

Examples:
  $ ${parent} get ${eg} report.tar report.tar
  $ ${parent} get ${eg} report.tar - | tar t`,
    )
    .action(async (...args: unknown[]) => {
      const { ctx, store, rest } = context(args);
      const [key, file] = rest as [string, string | undefined];
      const { info, path } = await downloadTo(ctx.io, key, file, store.get(key));
      if (path === undefined) return;
      if (ctx.json) return ctx.printJson({ ...objectJson(info), file: path });
      ctx.print(`wrote ${key} (${formatBytes(info.size)}) to ${path}`);
    });

  withScope(object.command('put').description('upload a file or stdin as an object (replacing one with the same key)'))
    .argument('<KEY>', 'object key: 1-256 of A-Z a-z 0-9 _ . -', parseObjectKey)
    .argument('[FILE]', 'file to upload; - or nothing reads stdin')
    .addHelpText(
      'after',
      `
Examples:
  $ ${parent} put ${eg} report.tar ./report.tar
  $ echo "v1.2.3" | ${parent} put ${eg} version
  $ ${parent} put ${eg} notes.txt -          type it, end with Ctrl-D`,
    )
    .action(async (...args: unknown[]) => {
      const { ctx, store, rest } = context(args);
      const [key, file] = rest as [string, string | undefined];
      const { object: stored, evicted = [] } = await uploadFrom(ctx.io, key, file, (body) => store.put(key, body));
      if (ctx.json) return ctx.printJson(scope === 'pipeline' ? { ...objectJson(stored), evicted } : objectJson(stored));
      ctx.print(`stored ${key} in ${store.label} (${formatBytes(stored.size)}, sha256 ${stored.sha256.slice(0, 12)})`);
      if (evicted.length > 0) ctx.print(`evicted the oldest: ${evicted.join(', ')}`);
    });

  withScope(object.command('delete').description('delete an object'))
    .argument('<KEY>', 'object key', parseObjectKey)
    .addHelpText(
      'after',
      `
Examples:
  $ ${parent} delete ${eg} report.tar`,
    )
    .action(async (...args: unknown[]) => {
      const { ctx, store, rest } = context(args);
      const key = rest[0]!;
      await store.delete(key);
      if (ctx.json) return ctx.printJson({ key, deleted: true });
      ctx.print(`deleted ${key} from ${store.label}`);
    });

  return object;
}
