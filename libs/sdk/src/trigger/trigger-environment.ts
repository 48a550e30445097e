/**
 * The environment Gofer starts a trigger container with (the header of `proto/gofer/v1/trigger.proto`),
 * read once at startup. Each value can be overridden, which is how tests serve a trigger in-process.
 */

/** Prefix of the install settings' variables: `GOFER_TRIGGER_SETTING_WEBHOOK_SECRET` is setting `webhook_secret`. */
export const SETTING_PREFIX = 'GOFER_TRIGGER_SETTING_';

/** What a trigger needs to serve and to post, validated. */
export interface TriggerEnvironment {
  /** The installed name, sent with every event. */
  name: string;
  /** The shared secret both directions authenticate with. */
  key: string;
  /** Port to serve on; 0 picks a free one. */
  port: number;
  /** Interface to serve on. */
  host: string;
  /** host:port of Gofer's gRPC API; undefined when not given (posting then fails with a clear error). */
  goferHost?: string;
  /** Install settings, keys lower-cased. */
  settings: Record<string, string>;
}

/** Values that replace the environment's (see `ServeTriggerOptions`). */
export interface TriggerEnvironmentOverrides {
  name?: string;
  key?: string;
  port?: number;
  host?: string;
  goferHost?: string;
  settings?: Record<string, string>;
}

/** The environment is not one a trigger can start with; `problems` lists every reason, one per entry. */
export class TriggerEnvironmentError extends Error {
  override readonly name = 'TriggerEnvironmentError';

  constructor(
    trigger: string,
    readonly problems: string[],
  ) {
    super(`trigger ${trigger} cannot start:\n${problems.map((problem) => `  ${problem}`).join('\n')}`);
  }
}

/**
 * Reads and checks the trigger's environment. Throws {@link TriggerEnvironmentError} naming every
 * missing or malformed variable. The name defaults to `definitionName` outside Gofer.
 */
export function readTriggerEnvironment(
  definitionName: string,
  env: Readonly<Record<string, string | undefined>>,
  overrides: TriggerEnvironmentOverrides = {},
): TriggerEnvironment {
  const problems: string[] = [];
  const name = overrides.name ?? (nonEmpty(env.GOFER_TRIGGER_NAME) || definitionName);

  const key = overrides.key ?? env.GOFER_TRIGGER_KEY ?? '';
  if (key === '') {
    problems.push('GOFER_TRIGGER_KEY is not set: Gofer passes each trigger its key when it starts the container');
  }

  let port = overrides.port ?? -1;
  if (overrides.port === undefined) {
    const raw = nonEmpty(env.GOFER_TRIGGER_PORT);
    if (raw === undefined) problems.push('GOFER_TRIGGER_PORT is not set: the port to serve gofer.v1.Trigger on');
    else port = /^\d{1,5}$/.test(raw) ? Number(raw) : -1;
    if (raw !== undefined && !validPort(port)) problems.push(`GOFER_TRIGGER_PORT must be a port number from 0 to 65535, not "${raw}"`);
  } else if (!validPort(port)) {
    problems.push(`port must be a port number from 0 to 65535, not ${port}`);
  }

  if (problems.length > 0) throw new TriggerEnvironmentError(name, problems);
  return {
    name,
    key,
    port,
    host: overrides.host ?? '0.0.0.0',
    goferHost: overrides.goferHost ?? nonEmpty(env.GOFER_HOST),
    settings: overrides.settings ?? installSettings(env),
  };
}

/** `GOFER_TRIGGER_SETTING_<KEY>` variables as `{ key: value }`, keys lower-cased. */
export function installSettings(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const [variable, value] of Object.entries(env)) {
    if (value === undefined || !variable.startsWith(SETTING_PREFIX) || variable.length === SETTING_PREFIX.length) continue;
    settings[variable.slice(SETTING_PREFIX.length).toLowerCase()] = value;
  }
  return settings;
}

const nonEmpty = (value: string | undefined): string | undefined => (value === undefined || value === '' ? undefined : value);

const validPort = (port: number): boolean => Number.isInteger(port) && port >= 0 && port <= 65535;
