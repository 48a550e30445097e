// The scheduler contract (scheduler.contract.ts) against the real Docker engine, with the scheduler built
// as the service builds it: loadConfig → createScheduler. Needs busybox:latest (`node scripts/test-images.mjs`).
import { randomUUID } from 'node:crypto';
import Docker from 'dockerode';
import { beforeAll } from 'vitest';
import { loadConfig } from '@gofer/config';
import { createScheduler } from '@gofer/scheduler';
import { freePort } from '../support/gofer-process.js';
import { describeSchedulerContract } from './scheduler.contract.js';

const IMAGE = 'busybox:latest';
// Direct engine access, only to check preconditions and to clean up whatever the scheduler left.
const docker = new Docker({ socketPath: '/var/run/docker.sock' });
const env = { GOFER_SCHEDULER: 'docker', GOFER_DOCKER_HOST: process.env.GOFER_DOCKER_HOST, GOFER_DOCKER_NETWORK: 'host' };

beforeAll(async () => {
  const images = await docker.listImages({ filters: JSON.stringify({ reference: [IMAGE] }) });
  if (images.length === 0) throw new Error(`image ${IMAGE} is missing: run \`node scripts/test-images.mjs\` first`);
});

describeSchedulerContract({
  kind: 'docker',
  scheduler: createScheduler(loadConfig(env)),
  image: IMAGE,
  async unreachable() {
    const port = await freePort(); // bound by the OS, then released: nothing listens there
    const socket = `/nonexistent/${randomUUID()}/docker.sock`;
    return [
      { label: 'closed loopback port', scheduler: createScheduler(loadConfig({ ...env, GOFER_DOCKER_HOST: `tcp://127.0.0.1:${port}` })), address: `tcp://127.0.0.1:${port}` },
      { label: 'missing socket', scheduler: createScheduler(loadConfig({ ...env, GOFER_DOCKER_HOST: `unix://${socket}` })), address: socket },
    ];
  },
  async cleanup(labels) {
    const filters = JSON.stringify({ label: Object.entries(labels).map(([key, value]) => `${key}=${value}`) });
    const leftovers = await docker.listContainers({ all: true, filters });
    await Promise.all(leftovers.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  },
  async crash(id) {
    // `docker kill` would mark the container stopped by hand, and its restart policy would not apply.
    const { State } = await docker.getContainer(id).inspect();
    if (!State.Running || State.Pid <= 0) throw new Error(`container ${id} has no process to kill`);
    process.kill(State.Pid, 'SIGKILL'); // the tests run beside the engine, as a user that may signal its containers
  },
});
