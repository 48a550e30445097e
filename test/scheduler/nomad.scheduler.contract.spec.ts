// The scheduler contract (scheduler.contract.ts) against Nomad's HTTP API as the stand-in serves it
// (apps/nomad-dev: no Nomad binary can be installed here), with the scheduler built as the service
// builds it: loadConfig → createScheduler. The stand-in runs each job's docker task on the local Docker
// engine, so the containers are real. Needs busybox:latest (`node scripts/test-images.mjs`).
import { afterAll } from 'vitest';
import { loadConfig } from '@gofer/config';
import { createScheduler } from '@gofer/scheduler';
import { NomadClient } from '../../libs/scheduler/src/nomad/nomad.client.js';
import { metaFilter } from '../../libs/scheduler/src/nomad/nomad.scheduler.js';
import { startNomadStandIn } from '../../apps/nomad-dev/src/nomad-stand-in.js';
import { freePort } from '../support/gofer-process.js';
import { crashAllocation } from '../support/nomad.js';
import { describeSchedulerContract } from './scheduler.contract.js';

const standIn = await startNomadStandIn();
// Direct API access, only to find allocations and to clean up whatever the scheduler left.
const nomad = new NomadClient({ address: standIn.address });
const env = { GOFER_SCHEDULER: 'nomad', GOFER_NOMAD_ADDR: standIn.address, GOFER_NOMAD_NETWORK_MODE: 'host' };

afterAll(() => standIn.close());

describeSchedulerContract({
  kind: 'nomad',
  scheduler: createScheduler(loadConfig(env)),
  image: 'busybox:latest',
  async unreachable() {
    const port = await freePort(); // bound by the OS, then released: nothing listens there
    const address = `http://127.0.0.1:${port}`;
    return [{ label: 'closed loopback port', scheduler: createScheduler(loadConfig({ ...env, GOFER_NOMAD_ADDR: address })), address }];
  },
  async cleanup(labels) {
    const jobs = await nomad.listJobs({ filter: metaFilter(labels) });
    await Promise.all(jobs.map((job) => nomad.deregisterJob(job.ID, { purge: true }).catch(() => undefined)));
  },
  async crash(id) {
    // Killing the process from outside, as a crash would: Nomad's restart policy then applies.
    const { value: allocs } = await nomad.jobAllocations(id);
    const alloc = allocs.sort((a, b) => b.CreateIndex - a.CreateIndex)[0];
    if (!alloc) throw new Error(`job ${id} has no allocation`);
    await crashAllocation(alloc.ID);
  },
});
