import type { GoferConfig } from '@gofer/config';
import { createDockerScheduler } from './docker/docker.scheduler.js';
import { dockerAdvertiseAddressProblem } from './docker/task-reachability.js';
import type { Scheduler } from './scheduler.js';

/** The settings that choose the engine (`GOFER_SCHEDULER`) and say where it is. */
export type SchedulerConfig = Pick<GoferConfig, 'scheduler' | 'dockerHost' | 'dockerNetwork'> & Partial<Pick<GoferConfig, 'dockerServiceAddress'>>;

/**
 * Builds the {@link Scheduler} that `GOFER_SCHEDULER` names: the one place an engine is chosen. Nothing
 * is contacted yet: call {@link Scheduler.ping} at startup to check the engine answers.
 *
 * @throws Error when the engine's address cannot be used, e.g. a `GOFER_DOCKER_HOST` of `ssh://…`;
 *   the message names the variable.
 */
export function createScheduler(config: SchedulerConfig): Scheduler {
  switch (config.scheduler) {
    case 'docker':
      // An empty GOFER_DOCKER_NETWORK means the engine's default network.
      return createDockerScheduler({ host: config.dockerHost, network: config.dockerNetwork || undefined, serviceAddress: config.dockerServiceAddress });
    default:
      return unknownScheduler(config.scheduler);
  }
}

/**
 * Why tasks of the configured scheduler could not reach the API at `GOFER_ADVERTISE_ADDR` (their
 * GOFER_HOST), or undefined: a worker warns at startup, since a task using its API token would fail.
 */
export function advertiseAddressProblem(config: SchedulerConfig & Pick<GoferConfig, 'advertiseAddr'>): string | undefined {
  switch (config.scheduler) {
    case 'docker':
      return dockerAdvertiseAddressProblem(config.advertiseAddr, config.dockerNetwork);
    default:
      return unknownScheduler(config.scheduler);
  }
}

// Fails to compile when GOFER_SCHEDULER gains a value the switch above does not handle.
function unknownScheduler(kind: never): never {
  throw new Error(`GOFER_SCHEDULER "${String(kind)}" is not a scheduler this build knows`);
}
