// The typed Nomad client (libs/scheduler/src/nomad/nomad.client.ts) against the stand-in of Nomad's HTTP
// API (apps/nomad-dev), which runs each job's docker task as a real container: register create-only,
// follow with blocking queries, read logs, explain a placement failure, list by Meta, deregister.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNomadStandIn, type NomadStandIn } from '../../apps/nomad-dev/src/nomad-stand-in.js';
import { JobExistsError, NomadClient, NomadError, watch } from '../../libs/scheduler/src/nomad/nomad.client.js';
import type { NomadAllocation, NomadJob } from '../../libs/scheduler/src/nomad/nomad.types.js';
import { placementFailureReason } from '../../libs/scheduler/src/nomad/placement-failure.js';

const TOKEN = randomUUID();
const RUN = randomUUID().slice(0, 8); // this file's jobs, whatever else the stand-in holds

let standIn: NomadStandIn;
let client: NomadClient;

beforeAll(async () => {
  standIn = await startNomadStandIn({ token: TOKEN });
  client = new NomadClient({ address: standIn.address, token: TOKEN, namespace: 'default' });
});
afterAll(async () => {
  await standIn?.close();
});

function batchJob(id: string, script: string): NomadJob {
  return {
    ID: id,
    Type: 'batch',
    Meta: { 'gofer.managed': 'true', 'gofer.run': RUN },
    TaskGroups: [
      {
        Name: 'task',
        RestartPolicy: { Attempts: 0, Mode: 'fail' },
        ReschedulePolicy: { Attempts: 0, Unlimited: false },
        Tasks: [
          {
            Name: 'task',
            Driver: 'docker',
            Config: { image: 'busybox:latest', command: 'sh', args: ['-c', script] },
            Resources: { CPU: 100, MemoryMB: 64 },
          },
        ],
      },
    ],
  };
}

async function logText(allocId: string, type: 'stdout' | 'stderr'): Promise<string> {
  const parts: Buffer[] = [];
  for await (const frame of client.streamLogs(allocId, 'task', type)) if (frame.kind === 'data') parts.push(frame.data);
  return Buffer.concat(parts).toString();
}

describe('NomadClient against the Nomad stand-in', () => {
  it('runs a batch job once, follows it to its exit code, reads its logs and purges it', async () => {
    const id = `gofer-${RUN}-ok`;
    const registered = await client.registerJob(batchJob(id, 'echo hello; echo oops >&2; exit 3'), { enforceIndex: 0 });
    await expect(client.registerJob(batchJob(id, 'exit 0'), { enforceIndex: 0 })).rejects.toBeInstanceOf(JobExistsError);

    const evaluation = await client.evaluation(registered.EvalID);
    expect(evaluation?.JobID).toBe(id);

    const abort = new AbortController();
    let allocId: string | undefined;
    for await (const { value } of watch((q) => client.jobAllocations(id, q), { signal: abort.signal, waitMs: 10_000 })) {
      allocId = value[0]?.ID;
      if (allocId) abort.abort();
    }
    let final: NomadAllocation | undefined;
    const done = new AbortController();
    for await (const { value } of watch((q) => client.allocation(allocId!, q), { signal: done.signal, waitMs: 10_000 })) {
      if (value && ['complete', 'failed', 'lost'].includes(value.ClientStatus)) {
        final = value;
        done.abort();
      }
    }
    expect(final?.ClientStatus).toBe('failed');
    const terminated = final?.TaskStates?.task?.Events?.find((event) => event.Type === 'Terminated');
    expect(terminated?.ExitCode).toBe(3);

    expect(await logText(allocId!, 'stdout')).toBe('hello\n');
    expect(await logText(allocId!, 'stderr')).toBe('oops\n');

    const listed = await client.listJobs({ prefix: `gofer-${RUN}`, filter: `"gofer.run" in Meta and Meta["gofer.run"] == "${RUN}"` });
    expect(listed.map((job) => job.ID)).toContain(id);

    expect(await client.deregisterJob(id, { purge: true })).toMatchObject({ EvalID: expect.any(String) });
    expect(await client.job(id)).toBeUndefined();
  });

  it('explains a placement failure in Nomad\'s words', async () => {
    standIn.failNextPlacement();
    const id = `gofer-${RUN}-unplaceable`;
    const { EvalID } = await client.registerJob(batchJob(id, 'exit 0'), { enforceIndex: 0 });
    const evaluation = await client.evaluation(EvalID);
    expect(placementFailureReason(evaluation!)).toContain('constraint "${attr.kernel.name} = windows": 3 nodes excluded by filter');
    await client.deregisterJob(id, { purge: true });
  });

  it('refuses a request without the ACL token as a permanent error', async () => {
    const anonymous = new NomadClient({ address: standIn.address });
    const error = await anonymous.job('anything').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NomadError);
    expect((error as NomadError).status).toBe(403);
  });
});
