import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { Command, Option } from 'commander';
import { ConfigFormat, PipelineState, RunStatus } from '@gofer/proto';
import type { CliContext, ContextFor } from './context.js';
import { CliError, EXIT_FAILURE } from './errors.js';
import { enumValue, isoTime, pipelineJson, runJson, taskRunJson } from './json-view.js';
import { objectCommand } from './object.command.js';
import { pipelineDetail, pipelineTable, runOutcome, runSummary, taskRunOutcome } from './plain-view.js';
import { waitForRun } from './run-wait.js';
import { parseConfigVersion, parseCount, parseVariable } from './variables.js';

/** `gofer pipeline …`: apply configs, inspect, enable/disable/delete pipelines, start runs. */
export function pipelineCommand(contextFor: ContextFor): Command {
  const pipeline = new Command('pipeline').description('create, inspect and run pipelines').addHelpText(
    'after',
    `
Examples:
  $ gofer pipeline apply hello.yaml          create the pipeline, or store a new version of it
  $ gofer pipeline list
  $ gofer pipeline run hello -v WHO=world --wait
  $ gofer pipeline object put hello model.bin ./model.bin`,
  );

  pipeline
    .command('apply')
    .description('create a pipeline from a config file, or store a new version of it')
    .argument('<FILE>', 'pipeline config (YAML or JSON); - reads stdin')
    .addHelpText(
      'after',
      `
Prints the version the config was stored as. Invalid configs are rejected with every error listed.

Examples:
  $ gofer pipeline apply hello.yaml
  $ cat hello.json | gofer pipeline apply -`,
    )
    .action(async (file: string, _opts: unknown, command: Command) => {
      const ctx = contextFor(command);
      const config = await readConfig(ctx, file);
      const { pipeline: p, version } = await ctx.client.applyPipelineConfig({
        namespaceId: ctx.globals.namespace,
        config,
        format: formatOf(file),
      });
      if (ctx.json) return ctx.printJson({ pipeline: p ? pipelineJson(p) : null, version });
      const id = p?.id ?? 'pipeline';
      ctx.print(version === 1 ? `created pipeline ${id} (version 1)` : `updated pipeline ${id} to version ${version}`);
      if (p?.state === PipelineState.PIPELINE_STATE_DISABLED) ctx.hint(`note: ${id} is disabled; enable it with gofer pipeline enable ${id}`);
    });

  pipeline
    .command('list')
    .description('list the pipelines of the namespace')
    .option('--limit <N>', 'at most N pipelines (0 = server default)', parseCount, 0)
    .option('--offset <N>', 'skip the first N pipelines', parseCount, 0)
    .addHelpText(
      'after',
      `
Examples:
  $ gofer pipeline list
  $ gofer pipeline list -n team-a --limit 50
  $ gofer pipeline list --output json`,
    )
    .action(async (opts: { limit: number; offset: number }, command: Command) => {
      const ctx = contextFor(command);
      const { pipelines } = await ctx.client.listPipelines({
        namespaceId: ctx.globals.namespace,
        limit: opts.limit,
        offset: opts.offset,
      });
      if (ctx.json) return ctx.printJson(pipelines.map(pipelineJson));
      ctx.print(pipelineTable(pipelines, Date.now()));
    });

  pipeline
    .command('get')
    .description('show a pipeline, or with --config the config of one of its versions')
    .argument('<ID>', 'pipeline id')
    .addOption(new Option('--config [VERSION]', 'print the config of a version exactly as applied (default: the latest)').argParser(parseConfigVersion))
    .addHelpText(
      'after',
      `
With --output json, --config prints {version, format, created, config}.

Examples:
  $ gofer pipeline get hello
  $ gofer pipeline get hello -n team-a --output json
  $ gofer pipeline get hello --config 2 > hello-v2.yaml`,
    )
    .action(async (id: string, opts: { config?: number | true }, command: Command) => {
      const ctx = contextFor(command);
      if (opts.config !== undefined) return printConfig(ctx, id, opts.config === true ? undefined : opts.config);
      const { pipeline: p } = await ctx.client.getPipeline({ namespaceId: ctx.globals.namespace, id });
      if (!p) throw new CliError(`Gofer returned no pipeline for ${id}`);
      if (ctx.json) return ctx.printJson(pipelineJson(p));
      ctx.print(pipelineDetail(p, Date.now()));
    });

  for (const [name, description] of [
    ['enable', 'let runs of a pipeline start again (by hand and by triggers)'],
    ['disable', 'stop new runs of a pipeline from starting; runs in flight finish'],
  ] as const) {
    pipeline
      .command(name)
      .description(description)
      .argument('<ID>', 'pipeline id')
      .addHelpText(
        'after',
        `
Examples:
  $ gofer pipeline ${name} hello
  $ gofer pipeline ${name} hello -n team-a`,
      )
      .action(async (id: string, _opts: unknown, command: Command) => {
        const ctx = contextFor(command);
        const request = { namespaceId: ctx.globals.namespace, id };
        const { pipeline: p } =
          name === 'enable' ? await ctx.client.enablePipeline(request) : await ctx.client.disablePipeline(request);
        if (ctx.json) return ctx.printJson(p ? pipelineJson(p) : null);
        ctx.print(`${name}d pipeline ${id}`);
      });
  }

  pipeline
    .command('delete')
    .description('delete a pipeline with its configs, runs and logs')
    .argument('<ID>', 'pipeline id')
    .addHelpText(
      'after',
      `
Examples:
  $ gofer pipeline delete hello
  $ gofer pipeline delete hello -n team-a`,
    )
    .action(async (id: string, _opts: unknown, command: Command) => {
      const ctx = contextFor(command);
      await ctx.client.deletePipeline({ namespaceId: ctx.globals.namespace, id });
      if (ctx.json) return ctx.printJson({ namespace: ctx.globals.namespace, id, deleted: true });
      ctx.print(`deleted pipeline ${id}`);
    });

  pipeline
    .command('run')
    .description('start a run of a pipeline')
    .argument('<ID>', 'pipeline id')
    // No default value: commander would print it in --help as "(default: {})".
    .option('-v, --var <KEY=VALUE>', 'run variable, visible to every task (repeatable)', parseVariable)
    .option('-w, --wait', 'wait for the run to complete, print its summary, exit 0 only if it succeeded')
    .option('--idempotency-key <KEY>', 'start at most one run per KEY: repeating the command returns the first run (safe to retry)')
    .addHelpText(
      'after',
      `
Examples:
  $ gofer pipeline run hello
  $ gofer pipeline run hello -v WHO=world -v LEVEL=debug --wait
  $ gofer pipeline run hello --wait --output json      final run and task runs as JSON
  $ gofer pipeline run hello --idempotency-key deploy-42   run once, however often this is repeated`,
    )
    .action(async (id: string, opts: { var?: Record<string, string>; wait?: boolean; idempotencyKey?: string }, command: Command) => {
      const ctx = contextFor(command);
      const { run } = await ctx.client.startRun({
        namespaceId: ctx.globals.namespace,
        pipelineId: id,
        variables: opts.var ?? {},
        idempotencyKey: opts.idempotencyKey ?? '',
      });
      if (!run) throw new CliError(`Gofer returned no run for ${id}`);
      if (!opts.wait) {
        if (ctx.json) return ctx.printJson(runJson(run));
        ctx.print(`started run ${run.id} of ${id}`);
        ctx.hint(`follow it: gofer run get ${id} ${run.id}`);
        return;
      }
      await waitAndReport(ctx, id, run.id);
    });

  pipeline.addCommand(objectCommand('pipeline', contextFor));

  return pipeline;
}

/** The stored config of one version (the latest when none is given), as applied. */
async function printConfig(ctx: CliContext, pipelineId: string, version: number | undefined): Promise<void> {
  const { configs } = await ctx.client.listPipelineConfigs({ namespaceId: ctx.globals.namespace, pipelineId, limit: 0, offset: 0 });
  const found = version === undefined ? configs[0] : configs.find((c) => c.version === version);
  if (!found) {
    const latest = configs[0]?.version;
    throw new CliError(`pipeline ${pipelineId} has no config version ${version}${latest ? ` (versions 1 to ${latest}; see gofer pipeline get ${pipelineId})` : ''}`);
  }
  const text = Buffer.from(found.config).toString('utf8');
  if (ctx.json) {
    return ctx.printJson({ version: found.version, format: enumValue(found.format, 'CONFIG_FORMAT_'), created: isoTime(found.created), config: text });
  }
  ctx.io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

async function waitAndReport(ctx: CliContext, pipelineId: string, runId: number): Promise<void> {
  const { stderr } = ctx.io;
  const abort = new AbortController();
  const onInterrupt = () => abort.abort();
  // Only a real terminal session gets Ctrl-C handling: the run keeps going on the server.
  const interactive = stderr === process.stderr;
  if (interactive) process.once('SIGINT', onInterrupt);
  try {
    const { run, taskRuns } = await waitForRun(
      ctx.client,
      { namespaceId: ctx.globals.namespace, pipelineId, runId },
      { progress: !ctx.json && stderr.isTTY ? stderr : undefined, signal: abort.signal },
    );
    if (ctx.json) ctx.printJson({ ...runJson(run), task_runs: taskRuns.map((t) => taskRunJson(t, run)) });
    else ctx.print(runSummary(run, taskRuns, Date.now()));
    if (run.status !== RunStatus.RUN_STATUS_SUCCESSFUL) {
      const culprit = taskRuns.find((t) => taskRunOutcome(t) === 'failed');
      const reason = enumValue(culprit?.statusReason?.reason, 'STATUS_REASON_KIND_');
      // A task that failed before its container ran has no logs: its reason is the explanation.
      const unstarted = reason === 'scheduler_error' || reason === 'failed_precondition';
      throw new CliError(
        culprit && unstarted
          ? `run ${runId} ${runOutcome(run)}: task ${culprit.taskId} could not start (${reason}: ${culprit.statusReason?.description})`
          : culprit
            ? `run ${runId} ${runOutcome(run)}: see why with gofer taskrun logs ${pipelineId} ${runId} ${culprit.taskId}`
            : `run ${runId} ${runOutcome(run)}: see gofer run get ${pipelineId} ${runId}`,
        EXIT_FAILURE,
      );
    }
  } catch (err) {
    if (abort.signal.aborted) {
      throw new CliError(`stopped waiting; run ${runId} continues (cancel it: gofer run cancel ${pipelineId} ${runId})`, 130);
    }
    throw err;
  } finally {
    if (interactive) process.off('SIGINT', onInterrupt);
  }
}

async function readConfig(ctx: CliContext, file: string): Promise<Buffer> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of ctx.io.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    const data = Buffer.concat(chunks);
    if (data.length === 0) throw new CliError('no pipeline config on stdin: pipe one in, or pass a FILE');
    return data;
  }
  try {
    return await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
    throw new CliError(`cannot read ${file}: ${why}`);
  }
}

/** The format hint sent with a config: from the file extension, else left to the server to detect. */
export function formatOf(file: string): ConfigFormat {
  switch (extname(file).toLowerCase()) {
    case '.json':
      return ConfigFormat.CONFIG_FORMAT_JSON;
    case '.yaml':
    case '.yml':
      return ConfigFormat.CONFIG_FORMAT_YAML;
    default:
      return ConfigFormat.CONFIG_FORMAT_UNSPECIFIED;
  }
}
