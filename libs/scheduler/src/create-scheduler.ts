import { splitAddress, type GoferConfig } from '@gofer/config';
import { createDockerScheduler } from './docker/docker.scheduler.js';
import { dockerAdvertiseAddressProblem } from './docker/task-reachability.js';
import { nomadTlsDispatcher } from './nomad/nomad-tls.js';
import { createNomadScheduler } from './nomad/nomad.scheduler.js';
import type { Scheduler } from './scheduler.js';

/**
 * The settings that choose the engine (`GOFER_SCHEDULER`) and say where it is: each engine needs only its
 * own (the whole {@link GoferConfig} fits).
 */
export type SchedulerConfig =
  | ({ scheduler: 'docker' } & Pick<GoferConfig, 'dockerHost' | 'dockerNetwork'> & Partial<Pick<GoferConfig, 'dockerServiceAddress'>>)
  | ({ scheduler: 'nomad' } & Pick<GoferConfig, 'nomad'> & Partial<Pick<GoferConfig, 'stopGraceMs'>>);

/**
 * Builds the {@link Scheduler} that `GOFER_SCHEDULER` names: the one place an engine is chosen. Nothing
 * is contacted yet: call {@link Scheduler.ping} at startup to check the engine answers.
 *
 * @throws Error when the engine's address cannot be used, e.g. a `GOFER_DOCKER_HOST` of `ssh://…`, or a
 *   `GOFER_NOMAD_*` TLS file cannot be read; the message names the variable.
 */
export function createScheduler(config: SchedulerConfig): Scheduler {
  switch (config.scheduler) {
    case 'docker':
      // An empty GOFER_DOCKER_NETWORK means the engine's default network.
      return createDockerScheduler({ host: config.dockerHost, network: config.dockerNetwork || undefined, serviceAddress: config.dockerServiceAddress });
    case 'nomad': {
      const { tls, ...nomad } = config.nomad;
      // TLS files are read now, so a bad path stops startup rather than every request.
      return createNomadScheduler({
        ...nomad,
        networkMode: nomad.networkMode || undefined,
        dispatcher: nomadTlsDispatcher(tls),
        // Nomad's own stops (a drained node, an operator's `nomad job stop`) give the grace Gofer gives.
        ...(config.stopGraceMs !== undefined && { killTimeoutSeconds: Math.ceil(config.stopGraceMs / 1000) }),
      });
    }
    default:
      return unknownScheduler(config);
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
    case 'nomad':
      return nomadAdvertiseAddressProblem(config.advertiseAddr, config.nomad.networkMode);
    default:
      return unknownScheduler(config);
  }
}

/**
 * Nomad places tasks on its clients, which may be other machines: a loopback GOFER_ADVERTISE_ADDR is
 * the task's own container (bridge mode) or, with `network_mode` host, the client machine, which is
 * Gofer only when Gofer runs there.
 */
function nomadAdvertiseAddressProblem(advertiseAddr: string, networkMode: string | undefined): string | undefined {
  const { host } = splitAddress(advertiseAddr);
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
  if (!loopback) return undefined;
  const fix = 'set GOFER_ADVERTISE_ADDR to an address every Nomad client can reach';
  if (networkMode === 'host') {
    return `tasks and triggers are told to reach Gofer at ${advertiseAddr} (GOFER_HOST), a loopback address: with ` +
      'GOFER_NOMAD_NETWORK_MODE=host only those placed on a Nomad client on this machine reach it; on any other client ' +
      `no trigger can post its events and a task using its API token or the gofer CLI will not connect. To use other clients, ${fix}`;
  }
  return `tasks and triggers are told to reach Gofer at ${advertiseAddr} (GOFER_HOST), a loopback address that inside a ` +
    'container Nomad runs is the container itself: no trigger can post its events, and a task using its API token or the ' +
    `gofer CLI will not connect. To fix, ${fix} (or, if every Nomad client is this machine, GOFER_NOMAD_NETWORK_MODE=host)`;
}

// Fails to compile when GOFER_SCHEDULER gains a value the switches above do not handle.
function unknownScheduler(config: never): never {
  throw new Error(`GOFER_SCHEDULER "${String((config as { scheduler: unknown }).scheduler)}" is not a scheduler this build knows`);
}
