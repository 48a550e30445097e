import { SchedulerError, type ContainerSpec, type ServiceSpec } from './scheduler.js';

// What every engine requires of a spec, checked before anything is sent to it, so a bad spec fails the
// same way (invalid_spec, naming every problem) on Docker and on Nomad.

// Docker's own rule for container names; Nomad job IDs accept it too.
const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Registry answers that mean "no such image" rather than "could not ask". */
export const NOT_FOUND_REASONS = /manifest unknown|not found|does not exist|pull access denied|repository name not known/i;

/** @throws SchedulerError `invalid_spec` naming every problem of the spec. */
export function validateSpec(spec: ContainerSpec): void {
  const problems: string[] = [];
  if (!NAME_PATTERN.test(spec.name)) {
    problems.push(`name "${spec.name}" must be at least 2 characters of [a-zA-Z0-9_.-], starting with a letter or digit`);
  }
  if (typeof spec.image !== 'string' || spec.image.trim() === '') problems.push('image must not be empty');
  for (const key of Object.keys(spec.env)) {
    if (key === '' || key.includes('=')) problems.push(`environment variable name "${key}" must be non-empty and contain no "="`);
  }
  const cpu = spec.resources?.cpu;
  if (cpu !== undefined && !(Number.isFinite(cpu) && cpu > 0)) problems.push(`cpu limit ${cpu} must be a positive number of CPUs`);
  const memory = spec.resources?.memoryBytes;
  if (memory !== undefined && !(Number.isSafeInteger(memory) && memory > 0)) {
    problems.push(`memory limit ${memory} must be a positive whole number of bytes`);
  }
  if (problems.length > 0) {
    throw new SchedulerError('invalid_spec', `invalid container spec: ${problems.join('; ')}`);
  }
}

/** @throws SchedulerError `invalid_spec` naming every problem of the service spec. */
export function validateServiceSpec(spec: ServiceSpec): void {
  validateSpec(spec);
  const problems: string[] = [];
  if (typeof spec.portEnv !== 'string' || spec.portEnv === '' || spec.portEnv.includes('=')) {
    problems.push(`port variable name "${spec.portEnv}" must be non-empty and contain no "="`);
  } else if (Object.hasOwn(spec.env, spec.portEnv)) {
    problems.push(`environment variable "${spec.portEnv}" must not be set: the scheduler chooses the port it carries`);
  }
  if (problems.length > 0) {
    throw new SchedulerError('invalid_spec', `invalid service spec: ${problems.join('; ')}`);
  }
}
