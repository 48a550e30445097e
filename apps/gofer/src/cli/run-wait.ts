import { setTimeout as sleep } from 'node:timers/promises';
import { GrpcStatus, isServiceError, RunState, type GoferClient, type Run, type TaskRun } from '@gofer/proto';
import type { Output } from './context.js';
import { progressLines } from './plain-view.js';

/** Identifies the run to wait for. */
export interface RunRef {
  namespaceId: string;
  pipelineId: string;
  runId: number;
}

export interface WaitOptions {
  /** A terminal to draw live progress on; none in non-TTY or JSON mode. */
  progress?: Output;
  /** Stops waiting (Ctrl-C); the wait rejects with the signal's reason. */
  signal?: AbortSignal;
  /** @default 500 */
  pollMs?: number;
  /**
   * How long the API may stay unreachable (a replica restarting) before the wait gives up.
   * @default 30000
   */
  unavailableBudgetMs?: number;
}

/** A run and its task runs, as last read. */
export interface RunSnapshot {
  run: Run;
  taskRuns: TaskRun[];
}

/**
 * Polls a run until it is complete and returns its final state. Draws live progress (a line per task,
 * updated in place) when given a terminal.
 */
export async function waitForRun(client: GoferClient, ref: RunRef, options: WaitOptions = {}): Promise<RunSnapshot> {
  const pollMs = options.pollMs ?? 500;
  const budget = options.unavailableBudgetMs ?? 30_000;
  const live = options.progress ? new LiveLines(options.progress) : undefined;
  let latest: RunSnapshot | undefined;
  let frame = 0;
  const redraw = () => {
    if (live && latest) live.draw(progressLines(latest.run, latest.taskRuns, Date.now(), frame++, options.progress?.columns));
  };
  const ticker = live ? setInterval(redraw, 100) : undefined;
  let unreachableSince: number | undefined;
  try {
    for (;;) {
      try {
        latest = await snapshot(client, ref);
        unreachableSince = undefined;
      } catch (err) {
        if (!(isServiceError(err) && err.code === GrpcStatus.UNAVAILABLE)) throw err;
        unreachableSince ??= Date.now();
        if (Date.now() - unreachableSince > budget) throw err;
      }
      if (latest?.run.state === RunState.RUN_STATE_COMPLETE) return latest;
      redraw();
      await sleep(pollMs, undefined, { signal: options.signal });
    }
  } finally {
    if (ticker) clearInterval(ticker);
    live?.clear();
  }
}

async function snapshot(client: GoferClient, ref: RunRef): Promise<RunSnapshot> {
  const { run } = await client.getRun(ref);
  if (!run) throw new Error(`GetRun returned no run for ${ref.pipelineId} ${ref.runId}`);
  // Read task runs after the run, so a complete run is never shown with task runs older than it.
  const { taskRuns } = await client.listTaskRuns(ref);
  return { run, taskRuns };
}

/** Redraws a block of lines in place on a terminal (cursor up + clear line), hiding the cursor meanwhile. */
class LiveLines {
  private drawn = 0;

  constructor(private readonly out: Output) {
    out.write('\x1b[?25l');
  }

  draw(lines: readonly string[]): void {
    let text = this.drawn > 0 ? `\x1b[${this.drawn}F` : '';
    for (const line of lines) text += `\x1b[2K${line}\n`;
    // Clear leftovers when the block shrank.
    if (lines.length < this.drawn) text += '\x1b[J';
    this.out.write(text);
    this.drawn = lines.length;
  }

  clear(): void {
    this.out.write(`${this.drawn > 0 ? `\x1b[${this.drawn}F` : ''}\x1b[J\x1b[?25h`);
    this.drawn = 0;
  }
}
