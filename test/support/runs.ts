import type { GoferClient, Run, TaskRun } from '@gofer/proto';
import { waitFor } from './gofer-process.js';

/** Applies a config (YAML text) in the default namespace. */
export async function apply(client: GoferClient, yaml: string): Promise<void> {
  await client.applyPipelineConfig({ namespaceId: 'default', config: Buffer.from(yaml), format: 'CONFIG_FORMAT_UNSPECIFIED' as never });
}

export async function startRun(client: GoferClient, pipelineId: string, variables: Record<string, string> = {}): Promise<Run> {
  return (await client.startRun({ namespaceId: 'default', pipelineId, variables })).run!;
}

/** Waits for a run to complete and returns it with its task runs keyed by task id. */
export async function waitForRun(
  client: GoferClient,
  pipelineId: string,
  runId: number,
  timeoutMs = 120_000,
): Promise<{ run: Run; tasks: Record<string, TaskRun> }> {
  const run = await waitFor(
    `run ${runId} of ${pipelineId} to complete`,
    async () => {
      const { run } = await client.getRun({ namespaceId: 'default', pipelineId, runId });
      return run?.state === 'RUN_STATE_COMPLETE' ? run : undefined;
    },
    timeoutMs,
  );
  const { taskRuns } = await client.listTaskRuns({ namespaceId: 'default', pipelineId, runId });
  return { run, tasks: Object.fromEntries(taskRuns.map((t) => [t.taskId, t])) };
}

export async function readLogs(
  client: GoferClient,
  pipelineId: string,
  runId: number,
  taskId: string,
  options: { follow?: boolean; attempt?: number } = {},
): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const message of client.getTaskRunLogs({
    namespaceId: 'default', pipelineId, runId, taskId, attempt: options.attempt ?? 0, follow: options.follow ?? false, offset: 0, tail: 0, limit: 0,
  })) {
    chunks.push(Buffer.from(message.chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The log split by stream (archived logs keep their streams too). */
export async function readLogStreams(
  client: GoferClient,
  pipelineId: string,
  runId: number,
  taskId: string,
): Promise<{ stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  for await (const message of client.getTaskRunLogs({ namespaceId: 'default', pipelineId, runId, taskId, attempt: 0, follow: false, offset: 0, tail: 0, limit: 0 })) {
    const text = Buffer.from(message.chunk).toString('utf8');
    if (message.stream === 'LOG_STREAM_STDERR') out.stderr += text;
    else out.stdout += text;
  }
  return out;
}
