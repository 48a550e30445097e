export {
  SchedulerError,
  type ContainerInfo,
  type ContainerRef,
  type ContainerSpec,
  type LogChunk,
  type Scheduler,
  type SchedulerErrorKind,
  type ServiceInfo,
  type ServiceRef,
  type ServiceSpec,
} from './scheduler.js';
export { advertiseAddressProblem, createScheduler, type SchedulerConfig } from './create-scheduler.js';
// For tests and tools that address a Docker engine directly; the service goes through createScheduler.
export { createDockerScheduler, dockerClient, type DockerSchedulerOptions } from './docker/docker.scheduler.js';
export * from './scheduler.tokens.js';
