import { Command } from 'commander';
import { RunState, RunStatus } from '@gofer/proto';
import { wordList } from './arguments.js';
import type { ContextFor } from './context.js';
import { CliError } from './errors.js';
import { runJson } from './json-view.js';
import { objectCommand } from './object.command.js';
import { runDetail, runTable } from './plain-view.js';
import { parseCount, parseRunId } from './variables.js';

const RUN_STATES = { pending: RunState.RUN_STATE_PENDING, running: RunState.RUN_STATE_RUNNING, complete: RunState.RUN_STATE_COMPLETE };
const RUN_STATUSES = { successful: RunStatus.RUN_STATUS_SUCCESSFUL, failed: RunStatus.RUN_STATUS_FAILED, cancelled: RunStatus.RUN_STATUS_CANCELLED };

interface ListOptions {
  limit: number;
  offset: number;
  state?: RunState[];
  status?: RunStatus[];
  startedBy?: string;
}

/** `gofer run …`: list, inspect, cancel and retry runs. */
export function runCommand(contextFor: ContextFor): Command {
  const run = new Command('run').description('inspect, cancel and retry runs').addHelpText(
    'after',
    `
Examples:
  $ gofer run list hello                     newest first
  $ gofer run get hello 4                    the run and its task runs
  $ gofer run retry hello 4                  re-run only what failed, was cancelled or skipped
  $ gofer run object get hello 4 report.tar ./report.tar`,
  );

  run
    .command('list')
    .description("list a pipeline's runs, newest first")
    .argument('<PIPELINE>', 'pipeline id')
    .option('--limit <N>', 'at most N runs', parseCount, 20)
    .option('--offset <N>', 'skip the N newest runs (of those the filters keep)', parseCount, 0)
    .option('--state <STATES>', 'only runs in these states: pending, running, complete (comma-separated)', wordList('state', RUN_STATES))
    .option('--status <STATUSES>', 'only complete runs with these outcomes: successful, failed, cancelled', wordList('status', RUN_STATUSES))
    .option('--started-by <WHO>', 'only runs started by WHO: token/<id>, trigger/<label>, or a prefix ending in "/" (trigger/)')
    .addHelpText(
      'after',
      `
Examples:
  $ gofer run list hello
  $ gofer run list hello --limit 5 --offset 20
  $ gofer run list hello --status failed,cancelled
  $ gofer run list hello --state pending,running --started-by trigger/
  $ gofer run list hello --output json`,
    )
    .action(async (pipelineId: string, opts: ListOptions, command: Command) => {
      const ctx = contextFor(command);
      const { runs } = await ctx.client.listRuns({
        namespaceId: ctx.globals.namespace,
        pipelineId,
        limit: opts.limit,
        offset: opts.offset,
        states: opts.state ?? [],
        statuses: opts.status ?? [],
        startedBy: opts.startedBy ?? '',
      });
      if (ctx.json) return ctx.printJson(runs.map(runJson));
      ctx.print(runTable(runs, Date.now()));
    });

  run
    .command('get')
    .description('show a run and its task runs')
    .argument('<PIPELINE>', 'pipeline id')
    .argument('<RUN>', 'run id', parseRunId)
    .addHelpText(
      'after',
      `
Examples:
  $ gofer run get hello 4
  $ gofer run get hello 4 --output json      the run only, without its task runs`,
    )
    .action(async (pipelineId: string, runId: number, _opts: unknown, command: Command) => {
      const ctx = contextFor(command);
      const ref = { namespaceId: ctx.globals.namespace, pipelineId, runId };
      const { run: found } = await ctx.client.getRun(ref);
      if (!found) throw new CliError(`Gofer returned no run ${runId} of ${pipelineId}`);
      if (ctx.json) return ctx.printJson(runJson(found));
      const { taskRuns } = await ctx.client.listTaskRuns(ref);
      ctx.print(runDetail(found, taskRuns, Date.now()));
    });

  run
    .command('cancel')
    .description('cancel a run: stop its containers, cancel tasks that have not started')
    .argument('<PIPELINE>', 'pipeline id')
    .argument('<RUN>', 'run id', parseRunId)
    .addHelpText(
      'after',
      `
Examples:
  $ gofer run cancel hello 4
  $ gofer run cancel hello 4 --output json   the run as it is after the request`,
    )
    .action(async (pipelineId: string, runId: number, _opts: unknown, command: Command) => {
      const ctx = contextFor(command);
      const ref = { namespaceId: ctx.globals.namespace, pipelineId, runId };
      await ctx.client.cancelRun(ref);
      if (ctx.json) {
        const { run: after } = await ctx.client.getRun(ref);
        return ctx.printJson(after ? runJson(after) : null);
      }
      ctx.print(`cancelling run ${runId} of ${pipelineId}`);
    });

  run
    .command('cancel-all')
    .description('cancel every pending or running run of a pipeline')
    .argument('<PIPELINE>', 'pipeline id')
    .addHelpText(
      'after',
      `
Examples:
  $ gofer run cancel-all hello
  $ gofer run cancel-all hello -n team-a --output json`,
    )
    .action(async (pipelineId: string, _opts: unknown, command: Command) => {
      const ctx = contextFor(command);
      const { runIds } = await ctx.client.cancelAllRuns({ namespaceId: ctx.globals.namespace, pipelineId });
      if (ctx.json) return ctx.printJson({ cancelled_runs: runIds });
      ctx.print(
        runIds.length === 0
          ? `no pending or running runs of ${pipelineId}`
          : `cancelling ${runIds.length === 1 ? 'run' : 'runs'} ${runIds.join(', ')} of ${pipelineId}`,
      );
    });

  run
    .command('retry')
    .description('start a new run that re-runs only the failed, cancelled and skipped tasks of a run')
    .argument('<PIPELINE>', 'pipeline id')
    .argument('<RUN>', 'id of a complete run', parseRunId)
    .addHelpText(
      'after',
      `
Examples:
  $ gofer run retry hello 4
  $ gofer run retry hello 4 --output json    the new run as JSON`,
    )
    .action(async (pipelineId: string, runId: number, _opts: unknown, command: Command) => {
      const ctx = contextFor(command);
      const { run: retry } = await ctx.client.retryRun({ namespaceId: ctx.globals.namespace, pipelineId, runId });
      if (!retry) throw new CliError(`Gofer returned no run for the retry of run ${runId}`);
      if (ctx.json) return ctx.printJson(runJson(retry));
      ctx.print(`started run ${retry.id} of ${pipelineId} (retry of run ${runId})`);
      ctx.hint(`follow it: gofer run get ${pipelineId} ${retry.id}`);
    });

  run.addCommand(objectCommand('run', contextFor));

  return run;
}
