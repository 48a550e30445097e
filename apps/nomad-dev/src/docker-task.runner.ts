// Runs an allocation's one `docker` task on the local Docker engine the way Nomad's client and docker
// driver would: pull (with `auth`), create, attach, start; task events and states in Nomad's shapes;
// the group's restart policy; kill on stop with the task's kill timeout; the container removed once
// it has exited (the driver's `gc.container = true` default).
import { PassThrough, type Readable } from 'node:stream';
import Docker from 'dockerode';
import { nowNs, type NomadObject, type StandInState } from './stand-in.state.js';
import { TaskLog } from './task-logs.js';

/** The label every container of one stand-in carries, so tests and `close()` can find them. */
export const INSTANCE_LABEL = 'gofer.nomad-dev.instance';
/** The label Nomad's docker driver puts on its containers. */
export const ALLOC_LABEL = 'com.hashicorp.nomad.alloc_id';

export interface RunContext {
  docker: Docker;
  state: StandInState;
  instanceId: string;
  /** Called after every write to the allocation (the job's status follows its allocations). */
  changed(alloc: NomadObject): void;
}

/** Every field of Nomad's `TaskEvent`, so clients that read any of them find the type they expect. */
export function taskEvent(type: string, fields: NomadObject = {}): NomadObject {
  return {
    Type: type, Time: nowNs(), DisplayMessage: '', Details: {}, Message: '', FailsTask: false,
    RestartReason: '', SetupError: '', DriverError: '', DriverMessage: '', ExitCode: 0, Signal: 0,
    KillTimeout: 0, KillError: '', KillReason: '', StartDelay: 0, DownloadError: '', ValidationError: '',
    DiskLimit: 0, FailedSibling: '', VaultError: '', TaskSignalReason: '', TaskSignal: '', GenericSource: '',
    ...fields,
  };
}

const MAX_EVENTS = 10; // Nomad keeps the latest 10 events per task

export class AllocationRun {
  readonly logs: { stdout: TaskLog; stderr: TaskLog };
  private containerId: string | undefined;
  /** Set once the allocation is being stopped or was lost: an exit is then not the task's own. */
  private ending: 'stop' | 'lost' | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private wakeRestart: (() => void) | undefined;
  private readonly finished: Promise<void>;
  private restartTimes: number[] = [];

  constructor(
    private readonly ctx: RunContext,
    readonly alloc: NomadObject,
    private readonly task: NomadObject,
    private readonly group: NomadObject,
    private readonly jobType: string,
    private readonly env: Record<string, string>,
    private readonly portBindings: { label: string; value: number; to: number }[],
  ) {
    const name = task.Name as string;
    this.logs = { stdout: new TaskLog(`alloc/logs/${name}.stdout.0`), stderr: new TaskLog(`alloc/logs/${name}.stderr.0`) };
    this.finished = this.run().catch((err) => this.fail('Driver Failure', { DriverError: message(err) }));
  }

  private get state(): NomadObject {
    return this.alloc.TaskStates[this.task.Name];
  }

  private record(event: NomadObject, changes: NomadObject = {}): void {
    const state = this.state;
    state.Events = [...state.Events, event].slice(-MAX_EVENTS);
    this.update(changes);
  }

  private update(changes: NomadObject): void {
    Object.assign(this.state, changes);
    this.alloc.ClientStatus = clientStatus(this.alloc);
    this.alloc.ClientDescription = describe(this.alloc.ClientStatus);
    this.ctx.state.write(this.alloc);
    this.ctx.changed(this.alloc);
  }

  private async run(): Promise<void> {
    const { docker } = this.ctx;
    this.record(taskEvent('Received', { DisplayMessage: 'Task received by client' }));
    this.record(taskEvent('Task Setup', { DisplayMessage: 'Building Task Directory', Message: 'Building Task Directory', Details: { message: 'Building Task Directory' } }));
    let config: NomadObject;
    try {
      config = decodeDriverConfig((this.task.Config ?? {}) as NomadObject, this.env);
    } catch (err) {
      // Nomad's client decodes the config against the driver's HCL spec: a bad one is not recoverable.
      this.record(taskEvent('Failed Validation', { DisplayMessage: message(err), ValidationError: message(err), FailsTask: true }));
      this.record(taskEvent('Not Restarting', { DisplayMessage: 'Error was unrecoverable', RestartReason: 'Error was unrecoverable', FailsTask: true }), {
        State: 'dead', Failed: true, FinishedAt: new Date().toISOString(),
      });
      return;
    }
    const image = String(config.image ?? '');
    if (!image) throw new Error('image is required in the docker task config');
    // A failed pull is recoverable to Nomad's docker driver: the restart policy decides what comes next.
    for (;;) {
      try {
        await this.ensureImage(image, config.auth as NomadObject | undefined);
        break;
      } catch (err) {
        if (this.ending) return;
        const delayNs = this.nextRestartDelay(1);
        if (delayNs === undefined) throw err;
        this.record(taskEvent('Driver Failure', { DisplayMessage: message(err), DriverError: message(err) }));
        if (!(await this.restartAfter(delayNs))) return;
      }
    }
    if (this.ending) return;
    const container = await docker.createContainer(this.createOptions(image, config));
    this.containerId = container.id;
    if (this.ending) return void (await this.removeContainer());
    for (;;) {
      const exitCode = await this.runOnce(container);
      if (this.ending) return;
      const finishedAt = new Date().toISOString();
      this.record(
        taskEvent('Terminated', {
          DisplayMessage: `Exit Code: ${exitCode}`, ExitCode: exitCode,
          Details: { exit_code: String(exitCode), signal: '0', oom_killed: 'false' },
        }),
      );
      const delayNs = this.nextRestartDelay(exitCode);
      if (delayNs === undefined) {
        const failed = exitCode !== 0 || this.jobType !== 'batch';
        if (failed) {
          const policy = this.restartPolicy();
          this.record(taskEvent('Not Restarting', {
            DisplayMessage: `Exceeded allowed attempts ${policy.Attempts} in interval ${goDuration(policy.Interval)} and mode is "${policy.Mode}"`,
            RestartReason: `Exceeded allowed attempts ${policy.Attempts} in interval ${goDuration(policy.Interval)} and mode is "${policy.Mode}"`,
            FailsTask: true,
          }));
        }
        await this.removeContainer();
        this.update({ State: 'dead', Failed: failed, FinishedAt: finishedAt });
        return;
      }
      if (!(await this.restartAfter(delayNs))) return;
    }
  }

  /**
   * Records the restart (Nomad counts `Restarts` at the "Restarting" event) and waits out its delay;
   * false when the task is being stopped meanwhile.
   */
  private async restartAfter(delayNs: number): Promise<boolean> {
    this.record(
      taskEvent('Restarting', {
        DisplayMessage: `Task restarting in ${goDuration(delayNs)}`, RestartReason: 'Restart within policy', StartDelay: delayNs,
      }),
      { State: 'pending', Restarts: (this.state.Restarts ?? 0) + 1, LastRestart: new Date().toISOString() },
    );
    await new Promise<void>((resolve) => {
      this.restartTimer = setTimeout(resolve, delayNs / 1e6);
      this.wakeRestart = resolve;
    });
    if (this.ending) return false;
    this.restartTimes.push(Date.now());
    return true;
  }

  /** Attaches, starts, and resolves with the exit code once the container stopped and its output is in. */
  private async runOnce(container: Docker.Container): Promise<number> {
    const stream = (await container.attach({ stream: true, stdout: true, stderr: true })) as unknown as Readable;
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    stdout.on('data', (chunk: Buffer) => this.logs.stdout.append(chunk));
    stderr.on('data', (chunk: Buffer) => this.logs.stderr.append(chunk));
    this.ctx.docker.modem.demuxStream(stream, stdout, stderr);
    const drained = new Promise<void>((resolve) => {
      stream.once('end', resolve);
      stream.once('close', resolve);
      stream.once('error', () => resolve());
    });
    try {
      await container.start();
    } catch (err) {
      stream.destroy();
      throw err;
    }
    // `not-running` after the start: a `next-exit` wait sent before it can reach the engine after a short
    // task has already exited, and then waits for an exit that never comes.
    const waited = container.wait({ condition: 'not-running' }) as Promise<{ StatusCode: number }>;
    this.record(taskEvent('Started', { DisplayMessage: 'Task started by client' }), {
      State: 'running', StartedAt: new Date().toISOString(), FinishedAt: null,
    });
    const { StatusCode } = await waited;
    // The attach stream ends once the engine has delivered the last output; bounded in case it does not.
    await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, 2000))]);
    stream.destroy();
    return StatusCode;
  }

  private restartPolicy(): NomadObject {
    const defaults = this.jobType === 'batch'
      ? { Attempts: 3, Interval: 24 * 3600e9, Delay: 15e9, Mode: 'fail' }
      : { Attempts: 2, Interval: 30 * 60e9, Delay: 15e9, Mode: 'fail' };
    return { ...defaults, ...(this.group.RestartPolicy ?? {}), ...(this.task.RestartPolicy ?? {}) };
  }

  /** Nanoseconds to wait before the next start, or undefined when the task does not restart. */
  private nextRestartDelay(exitCode: number): number | undefined {
    if (this.jobType === 'batch' && exitCode === 0) return undefined; // a batch task that succeeded is done
    const policy = this.restartPolicy();
    const windowStart = Date.now() - policy.Interval / 1e6;
    this.restartTimes = this.restartTimes.filter((time) => time > windowStart);
    const jitter = 1 + Math.random() * 0.25; // Nomad adds up to 25% jitter to the delay
    if (this.restartTimes.length < policy.Attempts) return Math.round(policy.Delay * jitter);
    if (policy.Mode === 'delay') {
      const oldest = this.restartTimes[0]!;
      return Math.round((oldest + policy.Interval / 1e6 - Date.now()) * 1e6 + policy.Delay * jitter);
    }
    return undefined;
  }

  private async ensureImage(image: string, auth: NomadObject | undefined): Promise<void> {
    try {
      await this.ctx.docker.getImage(image).inspect();
      return;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }
    this.record(taskEvent('Driver', { DisplayMessage: `Downloading image`, DriverMessage: `Downloading image` }));
    const credentials = auth && { username: auth.username, password: auth.password, serveraddress: auth.server_address };
    try {
      const stream = (await (credentials
        ? this.ctx.docker.createImage(credentials, { fromImage: image })
        : this.ctx.docker.createImage({ fromImage: image }))) as unknown as Readable;
      let failure: string | undefined;
      for await (const chunk of stream) {
        for (const line of String(chunk).split('\n')) {
          try {
            const progress = JSON.parse(line) as { error?: string };
            failure = progress.error ?? failure;
          } catch {
            // a partial line
          }
        }
      }
      if (failure) throw new Error(failure);
    } catch (err) {
      throw new Error(`Failed to pull \`${image}\`: ${message(err)}`);
    }
  }

  private createOptions(image: string, config: NomadObject): Docker.ContainerCreateOptions {
    const resources = (this.task.Resources ?? {}) as NomadObject;
    const hostConfig: Docker.HostConfig = {};
    if (config.network_mode) hostConfig.NetworkMode = String(config.network_mode);
    // The docker driver maps CPU MHz to CPU shares and MemoryMB to the hard memory limit.
    if (resources.CPU) hostConfig.CpuShares = Number(resources.CPU);
    if (resources.MemoryMB) hostConfig.Memory = Number(resources.MemoryMB) * 1024 * 1024;
    const exposed: Record<string, object> = {};
    if (config.network_mode !== 'host' && this.portBindings.length > 0) {
      hostConfig.PortBindings = {};
      for (const port of this.portBindings) {
        exposed[`${port.to}/tcp`] = {};
        hostConfig.PortBindings[`${port.to}/tcp`] = [{ HostIp: '127.0.0.1', HostPort: String(port.value) }];
      }
    }
    // The driver config is already decoded (decodeDriverConfig); environment values get Nomad's
    // runtime interpolation: `${NAME}` of a variable the task has is replaced, anything else kept.
    const interpolate = (value: string) => value.replace(/\$\{([A-Za-z0-9_.]+)\}/g, (whole, key: string) => this.env[key] ?? whole);
    const args = Array.isArray(config.args) ? (config.args as unknown[]).map(String) : [];
    const command = config.command !== undefined ? [String(config.command), ...args] : args.length > 0 ? args : undefined;
    const labels = Object.assign({}, ...((config.labels ?? []) as Array<Record<string, string>>));
    return {
      name: `${this.task.Name}-${this.alloc.ID}`,
      Image: image,
      ...(command && { Cmd: command }),
      ...(Array.isArray(config.entrypoint) && { Entrypoint: (config.entrypoint as unknown[]).map(String) }),
      Env: Object.entries(this.env).map(([key, value]) => `${key}=${interpolate(value)}`),
      Labels: { ...labels, [INSTANCE_LABEL]: this.ctx.instanceId, [ALLOC_LABEL]: this.alloc.ID },
      ExposedPorts: exposed,
      Tty: false,
      AttachStdin: false,
      OpenStdin: false,
      HostConfig: hostConfig,
    };
  }

  /** Stops the task (job deregistered): Killing, Terminated, Killed; the allocation ends `complete`. */
  async stop(description: string): Promise<void> {
    if (this.ending || isTerminal(this.alloc)) return;
    this.ending = 'stop';
    this.cancelRestart();
    this.alloc.DesiredStatus = 'stop';
    this.alloc.DesiredDescription = description;
    const killTimeout = Number(this.task.KillTimeout ?? 5e9);
    const wasRunning = this.state.State === 'running';
    this.record(taskEvent('Killing', {
      DisplayMessage: `Sent interrupt. Waiting ${goDuration(killTimeout)} before force killing`, KillTimeout: killTimeout,
    }));
    if (this.containerId) {
      try {
        if (wasRunning) await this.ctx.docker.getContainer(this.containerId).stop({ t: Math.ceil(killTimeout / 1e9) });
      } catch {
        // already stopped
      }
      const exitCode = wasRunning ? await this.exitCode() : undefined;
      if (exitCode !== undefined) {
        this.record(taskEvent('Terminated', {
          DisplayMessage: `Exit Code: ${exitCode}`, ExitCode: exitCode,
          Details: { exit_code: String(exitCode), signal: '0', oom_killed: 'false' },
        }));
      }
    }
    await this.removeContainer();
    this.record(taskEvent('Killed', { DisplayMessage: 'Task successfully killed' }), {
      State: 'dead', Failed: false, FinishedAt: new Date().toISOString(),
    });
  }

  /**
   * `POST /v1/client/allocation/:id/signal`: sends `signal` (e.g. `SIGTERM`) to the task's process.
   * Nomad answers 500 "Task not running" when the task has no process, and 400 for an unknown signal.
   */
  async signal(signal: string, task: string | undefined): Promise<void> {
    if (task !== undefined && task !== this.task.Name) throw Object.assign(new Error(`Failed to signal task: ${task}, err: task not found`), { status: 404 });
    if (!/^SIG[A-Z0-9]+$/.test(signal)) throw Object.assign(new Error(`invalid signal "${signal}"`), { status: 400 });
    if (this.state.State !== 'running' || !this.containerId) throw Object.assign(new Error('Task not running'), { status: 500 });
    this.record(taskEvent('Signaling', { DisplayMessage: `Task being sent signal ${signal}: `, TaskSignal: signal }));
    try {
      await this.ctx.docker.getContainer(this.containerId).kill({ signal });
    } catch (err) {
      // The process ended between the check and the kill: Nomad answers the same.
      throw Object.assign(new Error(`Task not running: ${message(err)}`), { status: 500 });
    }
  }

  /** The node "went down": the container is killed and the allocation is `lost`, with no further events. */
  async lose(): Promise<void> {
    if (isTerminal(this.alloc)) return;
    this.ending = 'lost';
    this.cancelRestart();
    await this.removeContainer();
    Object.assign(this.alloc, {
      ClientStatus: 'lost', ClientDescription: 'alloc is lost since its node is down',
      DesiredStatus: 'stop', DesiredDescription: 'alloc is lost since its node is down',
    });
    this.ctx.state.write(this.alloc);
    this.ctx.changed(this.alloc);
  }

  /** Kills and removes the container without recording anything (the stand-in is closing). */
  async dispose(): Promise<void> {
    this.ending ??= 'stop';
    this.cancelRestart();
    await this.removeContainer();
    await this.finished;
  }

  private async exitCode(): Promise<number | undefined> {
    try {
      const info = await this.ctx.docker.getContainer(this.containerId!).inspect();
      return info.State.ExitCode;
    } catch {
      return undefined;
    }
  }

  private async removeContainer(): Promise<void> {
    if (!this.containerId) return;
    try {
      await this.ctx.docker.getContainer(this.containerId).remove({ force: true, v: true });
    } catch {
      // gone already
    }
  }

  /** Ends a restart delay early: the run loop then sees `ending` and returns. */
  private cancelRestart(): void {
    clearTimeout(this.restartTimer);
    this.wakeRestart?.();
  }

  private fail(type: string, fields: NomadObject): void {
    if (this.ending) return;
    this.record(taskEvent(type, { ...fields, DisplayMessage: fields.DriverError ?? type, FailsTask: true }));
    this.record(taskEvent('Not Restarting', {
      DisplayMessage: `Error was unrecoverable`, RestartReason: 'Error was unrecoverable', FailsTask: true,
    }), { State: 'dead', Failed: true, FinishedAt: new Date().toISOString() });
    void this.removeContainer();
  }
}

/**
 * The docker driver config as Nomad's client decodes it: against the driver's HCL spec, where `labels`
 * is `list(map(string))`, and every string is an HCL template over the task's environment (`${NAME}`
 * must name a variable it has; `$${` and `%%{` are literal `${` and `%{`). Throws what Nomad's
 * "Failed Validation" event would say.
 */
export function decodeDriverConfig(config: NomadObject, env: Record<string, string>): NomadObject {
  const template = (text: string): string => {
    let out = '';
    for (let i = 0; i < text.length; i++) {
      const rest = text.slice(i);
      if (rest.startsWith('$${') || rest.startsWith('%%{')) {
        out += rest.slice(1, 3);
        i += 2;
      } else if (rest.startsWith('${')) {
        const end = rest.indexOf('}');
        const name = end > 0 ? rest.slice(2, end).trim() : '';
        if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name)) throw new Error(`failed to parse config: Invalid expression in template "${text}"`);
        if (!(name in env)) throw new Error(`failed to parse config: Unknown variable: There is no variable named "${name}"`);
        out += env[name];
        i += end;
      } else if (rest.startsWith('%{')) {
        throw new Error(`failed to parse config: template directives are not supported by nomad-dev: "${text}"`);
      } else {
        out += text[i];
      }
    }
    return out;
  };
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return template(value);
    if (Array.isArray(value)) return value.map(walk);
    if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    return value;
  };
  if (config.labels !== undefined && !(Array.isArray(config.labels) && config.labels.every((l) => l !== null && typeof l === 'object' && !Array.isArray(l)))) {
    throw new Error('failed to parse config: Incorrect attribute value type: Inappropriate value for attribute "labels": list of map of string required');
  }
  return walk(config) as NomadObject;
}

export function isTerminal(alloc: NomadObject): boolean {
  return ['complete', 'failed', 'lost'].includes(alloc.ClientStatus);
}

/** Nomad's client: any failed task fails the allocation; any pending one keeps it pending. */
function clientStatus(alloc: NomadObject): string {
  if (alloc.ClientStatus === 'lost') return 'lost';
  const states = Object.values(alloc.TaskStates as Record<string, NomadObject>);
  if (states.some((s) => s.State === 'dead' && s.Failed)) return 'failed';
  if (states.some((s) => s.State === 'pending')) return 'pending';
  if (states.some((s) => s.State === 'running')) return 'running';
  return 'complete';
}

function describe(status: string): string {
  return { pending: 'No tasks have started', running: 'Tasks are running', complete: 'All tasks have completed', failed: 'Failed tasks', lost: 'alloc is lost since its node is down' }[status] ?? '';
}

/** Go's time.Duration String(), for the messages Nomad builds with it. */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  let seconds = ns / 1e9;
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  const s = `${Number(seconds.toFixed(9))}s`;
  if (hours > 0) return `${hours}h${minutes}m${s}`;
  if (minutes > 0) return `${minutes}m${s}`;
  return s;
}

function message(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string };
  return (e?.json?.message ?? e?.message ?? String(err)).trim();
}
