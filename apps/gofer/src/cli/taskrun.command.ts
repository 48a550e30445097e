import { once } from 'node:events';
import { Command } from 'commander';
import { LogStream } from '@gofer/proto';
import { parseTailSize } from './arguments.js';
import type { ContextFor, Output } from './context.js';
import { CliError } from './errors.js';
import { taskRunJson } from './json-view.js';
import { taskRunDetail, taskRunTable } from './plain-view.js';
import { parseAttempt, parseRunId } from './variables.js';
import { resuming } from './resume.js';

/** `gofer taskrun …`: inspect, cancel task runs and read their logs. */
export function taskRunCommand(contextFor: ContextFor): Command {
  const taskrun = new Command('taskrun').description("inspect task runs and read their logs").addHelpText(
    'after',
    `
Examples:
  $ gofer taskrun list hello 4
  $ gofer taskrun logs hello 4 greet --follow`,
  );

  taskrun
    .command('list')
    .description('list the task runs of a run (latest attempt of each task)')
    .argument('<PIPELINE>', 'pipeline id')
    .argument('<RUN>', 'run id', parseRunId)
    .addHelpText(
      'after',
      `
Examples:
  $ gofer taskrun list hello 4
  $ gofer taskrun list hello 4 --output json`,
    )
    .action(async (pipelineId: string, runId: number, _opts: unknown, command: Command) => {
      const ctx = contextFor(command);
      const { taskRuns } = await ctx.client.listTaskRuns({ namespaceId: ctx.globals.namespace, pipelineId, runId });
      if (ctx.json) {
        const { run } = await ctx.client.getRun({ namespaceId: ctx.globals.namespace, pipelineId, runId });
        return ctx.printJson(taskRuns.map((t) => taskRunJson(t, run!)));
      }
      ctx.print(taskRunTable(taskRuns, Date.now()));
    });

  taskrun
    .command('get')
    .description('show a task run')
    .argument('<PIPELINE>', 'pipeline id')
    .argument('<RUN>', 'run id', parseRunId)
    .argument('<TASK>', 'task id')
    .addHelpText(
      'after',
      `
Examples:
  $ gofer taskrun get hello 4 greet
  $ gofer taskrun get hello 4 greet --output json`,
    )
    .action(async (pipelineId: string, runId: number, taskId: string, _opts: unknown, command: Command) => {
      const ctx = contextFor(command);
      const { taskRun } = await ctx.client.getTaskRun({
        namespaceId: ctx.globals.namespace,
        pipelineId,
        runId,
        taskId,
        attempt: 0,
      });
      if (!taskRun) throw new CliError(`Gofer returned no task run ${taskId} of run ${runId}`);
      if (ctx.json) {
        const { run } = await ctx.client.getRun({ namespaceId: ctx.globals.namespace, pipelineId, runId });
        return ctx.printJson(taskRunJson(taskRun, run!));
      }
      ctx.print(taskRunDetail(taskRun, Date.now()));
    });

  taskrun
    .command('logs')
    .description("print a task run's logs")
    .argument('<PIPELINE>', 'pipeline id')
    .argument('<RUN>', 'run id', parseRunId)
    .argument('<TASK>', 'task id')
    .option('-f, --follow', 'keep printing new output until the task run completes')
    .option('--attempt <N>', "an earlier attempt's logs (default: the latest attempt)", parseAttempt)
    .option('--tail <SIZE>', 'only the last SIZE of the log, in bytes or with a unit (64k, 2M); with --follow, then what comes next', parseTailSize)
    .addHelpText(
      'after',
      `
Logs are printed as the container wrote them, in both output modes: its stdout goes to stdout and
its stderr to stderr, while the task runs and after it ended. Gofer's own notes (such as the
truncation marker past the log cap) go to stdout.

Examples:
  $ gofer taskrun logs hello 4 greet
  $ gofer taskrun logs hello 4 greet --follow
  $ gofer taskrun logs hello 4 build --tail 64k --follow   the end of a long log, then live
  $ gofer taskrun logs hello 4 flaky --attempt 1`,
    )
    .action(async (pipelineId: string, runId: number, taskId: string, opts: { follow?: boolean; attempt?: number; tail?: number }, command: Command) => {
      const ctx = contextFor(command);
      // Kept up to date as chunks arrive, so a stream lost with its API replica resumes right after them.
      let attempt = opts.attempt ?? 0;
      let printed = 0; // bytes of the log printed so far: a resumed stream asks to start there
      let position = 0; // where the next chunk starts, for a server that does not say (see below)
      const stream = resuming(
        () => {
          position = 0;
          // The tail is asked for until something was printed; a resumed stream goes on from there.
          const tail = printed === 0 ? opts.tail ?? 0 : 0;
          return ctx.client.getTaskRunLogs({
            namespaceId: ctx.globals.namespace, pipelineId, runId, taskId, attempt, offset: tail ? 0 : printed, follow: opts.follow ?? false, tail, limit: 0,
          });
        },
        { onReconnect: (reason) => ctx.hint(`lost the log stream (${reason}); resuming at byte ${printed}`) },
      );
      for await (const response of stream) {
        // A replica older than offsets (mid-upgrade) sends neither offset nor attempt, and starts from
        // byte 0 whatever was asked: what it sends again is skipped here.
        const start = response.attempt ? response.offset : position;
        attempt = response.attempt || attempt;
        position = start + response.chunk.length;
        const skip = Math.max(0, printed - start);
        if (skip >= response.chunk.length) continue;
        const out = response.stream === LogStream.LOG_STREAM_STDERR ? ctx.io.stderr : ctx.io.stdout;
        await write(out, skip ? response.chunk.subarray(skip) : response.chunk);
        printed = position;
      }
    });

  taskrun
    .command('cancel')
    .description('cancel a task run: stop its container')
    .argument('<PIPELINE>', 'pipeline id')
    .argument('<RUN>', 'run id', parseRunId)
    .argument('<TASK>', 'task id')
    .addHelpText(
      'after',
      `
Examples:
  $ gofer taskrun cancel hello 4 greet
  $ gofer run cancel hello 4                 cancel the whole run instead`,
    )
    .action(async (pipelineId: string, runId: number, taskId: string, _opts: unknown, command: Command) => {
      const ctx = contextFor(command);
      const ref = { namespaceId: ctx.globals.namespace, pipelineId, runId, taskId };
      await ctx.client.cancelTaskRun(ref);
      if (ctx.json) {
        const { taskRun } = await ctx.client.getTaskRun({ ...ref, attempt: 0 });
        const { run } = await ctx.client.getRun({ namespaceId: ref.namespaceId, pipelineId, runId });
        return ctx.printJson(taskRun && run ? taskRunJson(taskRun, run) : null);
      }
      ctx.print(`cancelling task ${taskId} of run ${runId} of ${pipelineId}`);
    });

  return taskrun;
}

/** Writes a chunk, waiting while the reader is slow so a long log never piles up in memory. */
async function write(out: Output, chunk: Uint8Array): Promise<void> {
  if (chunk.length > 0 && !out.write(chunk)) await once(out, 'drain');
}
