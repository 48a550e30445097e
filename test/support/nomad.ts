// Gofer in Nomad mode for the tests: the Nomad API stand-in (apps/nomad-dev; no Nomad binary can be
// installed here) running each job's docker task on the local Docker engine, and the environment that
// points a TestCluster at it.
import Docker from 'dockerode';
import { ALLOC_LABEL } from '../../apps/nomad-dev/src/docker-task.runner.js';
import { startNomadStandIn, type NomadStandIn } from '../../apps/nomad-dev/src/nomad-stand-in.js';
import { NomadClient } from '../../libs/scheduler/src/nomad/nomad.client.js';

export interface TestNomad {
  standIn: NomadStandIn;
  /** Direct API access, for assertions about the jobs Gofer registered. */
  client: NomadClient;
  /**
   * What a TestCluster needs to schedule on it (task containers on the host network, as in Docker mode).
   * Gofer's own Docker address points nowhere: a worker in Nomad mode must not need a Docker socket.
   */
  env: Record<string, string>;
}

export async function startTestNomad(): Promise<TestNomad> {
  const standIn = await startNomadStandIn();
  return {
    standIn,
    client: new NomadClient({ address: standIn.address }),
    env: {
      GOFER_SCHEDULER: 'nomad', GOFER_NOMAD_ADDR: standIn.address, GOFER_NOMAD_NETWORK_MODE: 'host',
      GOFER_DOCKER_HOST: 'unix:///nonexistent/gofer-nomad-mode/docker.sock',
    },
  };
}

/**
 * Kills the process of an allocation's running container from outside, as a crash would (SIGKILL, not
 * through Nomad's API, which Nomad would take for a stop): its restart policy then applies.
 */
export async function crashAllocation(allocId: string): Promise<void> {
  const docker = new Docker({ socketPath: '/var/run/docker.sock' });
  const [container] = await docker.listContainers({ filters: JSON.stringify({ label: [`${ALLOC_LABEL}=${allocId}`] }) });
  if (!container) throw new Error(`allocation ${allocId} has no running container`);
  const { State } = await docker.getContainer(container.Id).inspect();
  process.kill(State.Pid, 'SIGKILL'); // the tests run beside the engine, as a user that may signal its containers
}
