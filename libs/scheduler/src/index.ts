export {
  SchedulerError,
  type ContainerInfo,
  type ContainerRef,
  type ContainerSpec,
  type LogChunk,
  type Scheduler,
  type SchedulerErrorKind,
} from './scheduler.js';
export { createDockerScheduler, type DockerSchedulerOptions } from './docker/docker.scheduler.js';
