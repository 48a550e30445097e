// The core DAG suite, shared by the engines: test/e2e/dag.spec.ts (Docker), test/nomad/dag.nomad.spec.ts (Nomad).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GoferClient } from '@gofer/proto';
import { TestCluster } from '../support/gofer-process.js';
import { apply, readLogs, readLogStreams, startRun, waitForRun } from '../support/runs.js';

const PIPELINE = `
id: dag-e2e
name: DAG end to end
tasks:
  - id: greet
    image: busybox:latest
    script: 'echo "hello $WHO from $GOFER_PIPELINE_ID/$GOFER_RUN_ID/$GOFER_TASK_ID"; echo "to stderr" >&2'
    variables: { WHO: world }
  - id: slow_branch
    image: busybox:latest
    script: 'sleep 1; echo slow done'
    depends_on: { greet: success }
  - id: fails
    image: busybox:latest
    command: [sh, -c, 'echo failing; exit 3']
    depends_on: { greet: success }
  - id: on_failure
    image: busybox:latest
    script: echo recovered
    depends_on: { fails: failure }
  - id: on_success
    image: busybox:latest
    script: echo never
    depends_on: { fails: success }
  - id: cascade
    image: busybox:latest
    script: echo never
    depends_on: { on_success: success }
  - id: after_skip
    image: busybox:latest
    script: echo a skipped parent satisfies any
    depends_on: { on_success: any }
  - id: too_slow
    image: busybox:latest
    script: 'echo starting; sleep 60'
    timeout: 2s
  - id: flaky
    image: busybox:latest
    script: 'if [ "$GOFER_TASK_ATTEMPT" = 1 ]; then echo "attempt 1 fails"; exit 7; fi; echo "attempt $GOFER_TASK_ATTEMPT works"'
    retries: { attempts: 3, backoff: 200ms }
  - id: finally
    image: busybox:latest
    script: echo finally
    depends_on: { slow_branch: any, on_failure: any, cascade: any, flaky: success }
`;

/**
 * The core DAG suite, run against the engine `engineEnv` chooses: Docker here, Nomad in
 * test/nomad/dag.nomad.spec.ts.
 */
export function describeDag(label: string, engineEnv: () => Promise<Record<string, string>>): void {
  describe(`a DAG of real containers (${label})`, () => {
    let cluster: TestCluster;
    let client: GoferClient;

    beforeAll(async () => {
      cluster = await TestCluster.create(`dag-${label}`, await engineEnv());
      await cluster.start();
      client = cluster.client();
    });
    afterAll(async () => cluster?.destroy());

    it('runs branches in parallel, honours success/failure/any, skips, times out and retries', async () => {
      await apply(client, PIPELINE);
      const started = await startRun(client, 'dag-e2e', { RUN_VAR: 'x' });
      expect(started.id).toBe(1);
      const { run, tasks } = await waitForRun(client, 'dag-e2e', started.id);

      expect(run.status).toBe('RUN_STATUS_FAILED');
      const outcome = Object.fromEntries(
        Object.values(tasks).map((t) => [t.taskId, [t.status.replace('TASK_RUN_STATUS_', '').toLowerCase(), t.exitCode ?? null]]),
      );
      expect(outcome).toEqual({
        greet: ['successful', 0],
        slow_branch: ['successful', 0],
        fails: ['failed', 3],
        on_failure: ['successful', 0],
        on_success: ['skipped', null],
        cascade: ['skipped', null],
        after_skip: ['successful', 0],
        too_slow: ['failed', 137],
        flaky: ['successful', 0],
        finally: ['successful', 0],
      });
      expect(tasks.fails.statusReason).toEqual({ reason: 'STATUS_REASON_KIND_ABNORMAL_EXIT', description: 'exited with code 3' });
      expect(tasks.on_success.statusReason?.reason).toBe('STATUS_REASON_KIND_FAILED_PRECONDITION');
      expect(tasks.on_success.statusReason?.description).toBe('"fails" ended failed, but this task depends on it with "success"');
      expect(tasks.cascade.statusReason?.reason).toBe('STATUS_REASON_KIND_FAILED_PRECONDITION');
      expect(tasks.too_slow.statusReason).toEqual({ reason: 'STATUS_REASON_KIND_TIMEOUT', description: 'exceeded its timeout of 2s' });
      expect(tasks.flaky.attempt).toBe(2);
      expect(run.statusReason?.reason).toMatch(/ABNORMAL_EXIT|TIMEOUT/);

      // slow_branch (sleep 1) and fails ran at the same time: their lifetimes overlap.
      expect(tasks.slow_branch.started).toBeLessThan(tasks.fails.ended);
      expect(tasks.fails.started).toBeLessThan(tasks.slow_branch.ended);
      // Dependents started only after their parents ended.
      expect(tasks.on_failure.started).toBeGreaterThanOrEqual(tasks.fails.ended);
      expect(tasks.finally.started).toBeGreaterThanOrEqual(tasks.flaky.ended);

      // stdout and stderr are separate pipes (their relative order is not defined), kept apart in the archive.
      expect(await readLogStreams(client, 'dag-e2e', 1, 'greet')).toEqual({
        stdout: 'hello world from dag-e2e/1/greet\n', stderr: 'to stderr\n',
      });
      expect(await readLogs(client, 'dag-e2e', 1, 'fails')).toBe('failing\n');
      expect(await readLogs(client, 'dag-e2e', 1, 'flaky', { attempt: 1 })).toBe('attempt 1 fails\n');
      expect(await readLogs(client, 'dag-e2e', 1, 'flaky')).toBe('attempt 2 works\n');
      const firstAttempt = (await client.getTaskRun({ namespaceId: 'default', pipelineId: 'dag-e2e', runId: 1, taskId: 'flaky', attempt: 1 })).taskRun!;
      expect(firstAttempt).toMatchObject({ attempt: 1, status: 'TASK_RUN_STATUS_FAILED', exitCode: 7 });
    });

    it('retries a run re-running only what did not succeed', async () => {
      const retried = (await client.retryRun({ namespaceId: 'default', pipelineId: 'dag-e2e', runId: 1 })).run!;
      expect(retried.retryOf).toBe(1);
      const { tasks } = await waitForRun(client, 'dag-e2e', retried.id);
      const containers = await cluster.query<{ task_id: string; reused_from_run: number | null }>(
        'SELECT task_id, reused_from_run FROM task_runs WHERE run_id = $1 ORDER BY task_id', [retried.id],
      );
      const reused = containers.filter((row) => row.reused_from_run === 1).map((row) => row.task_id);
      expect(reused.sort()).toEqual(['after_skip', 'finally', 'flaky', 'greet', 'on_failure', 'slow_branch']);
      expect(tasks.fails.status).toBe('TASK_RUN_STATUS_FAILED');
      // Reused results keep their logs.
      expect(await readLogStreams(client, 'dag-e2e', retried.id, 'greet')).toEqual({
        stdout: 'hello world from dag-e2e/1/greet\n', stderr: 'to stderr\n',
      });
    });
  });
}
