import { Inject, Injectable } from '@nestjs/common';
import { GOFER_CONFIG, LOGGER, type GoferConfig } from '@gofer/config';
import { ClusterRepository, LeasesRepository, TriggersRepository, type LeaseFence, type TriggerEntity } from '@gofer/dal';
import { clusterLabels, parseTriggerContainerLabels, triggerContainerLabels, triggerContainerName } from '@gofer/queue';
import { SCHEDULER, type Scheduler, type ServiceInfo } from '@gofer/scheduler';
import type { Logger } from 'pino';
import { LeaderLease } from './leader-lease.js';
import { TriggerClient } from './trigger.client.js';
import { endpointOf, subscriptionMessage } from './trigger.service.js';
import { TriggersMetrics } from './triggers.metrics.js';

/** The duty the supervisor's lease is for. */
export const TRIGGERS_DUTY = 'triggers';
/** The environment variable that tells a trigger which port to serve on (trigger.proto). */
export const TRIGGER_PORT_ENV = 'GOFER_TRIGGER_PORT';
/** First and largest wait before starting a trigger's container again after it failed. */
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 60_000;
/** A container this young that does not answer yet is `starting`, not `failing`. */
const STARTUP_GRACE_MS = 15_000;
/** How long a trigger gets to finish in-flight work after Shutdown before its container is removed. */
const SHUTDOWN_GRACE_SECONDS = 5;

/**
 * Runs every installed trigger's container, exactly one per cluster: only the worker process holding
 * the `triggers` lease (leader-lease.ts) acts. Each check it
 * - starts the container of a trigger that has none (or one from an older install, which it replaces),
 *   through the scheduler's service shape, which restarts a crashed container itself; a container that
 *   is gone or stopped is started again with exponential backoff;
 * - calls the trigger's Info with its key: when the trigger's instance id changed (its process
 *   restarted, or it is new) it sends every active subscription again;
 * - removes containers of uninstalled triggers;
 * - records what it saw on the trigger's row, fenced by the lease, so `gofer trigger get` shows it.
 * A new leader adopts the running containers (the scheduler finds them by name) instead of starting more.
 */
@Injectable()
export class TriggerSupervisor {
  private lease: LeaderLease | undefined;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  private clusterId = '';
  /** Per trigger: failures in a row and when the container may be started again. */
  private readonly backoff = new Map<string, { failures: number; until: number }>();
  /** Per trigger: when this leader started its container (for the startup grace). */
  private readonly startedAt = new Map<string, number>();

  constructor(
    @Inject(GOFER_CONFIG) private readonly config: GoferConfig,
    @Inject(SCHEDULER) private readonly scheduler: Scheduler,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly triggers: TriggersRepository,
    private readonly leases: LeasesRepository,
    private readonly cluster: ClusterRepository,
    private readonly client: TriggerClient,
    private readonly metrics: TriggersMetrics,
  ) {}

  async start(): Promise<void> {
    this.clusterId = await this.cluster.id();
    this.lease = new LeaderLease(this.leases, TRIGGERS_DUTY, this.config.workerId, this.config.leaderLeaseMs, this.logger, this.metrics.leader, (leading) => {
      if (leading) void this.check();
      else this.metrics.up.reset();
    });
    this.lease.start();
    this.timer = setInterval(() => void this.check(), this.config.triggerCheckIntervalMs);
  }

  /** Stops supervising and hands the lease over; the trigger containers keep running for the next leader. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.checking;
    await this.lease?.stop();
  }

  /** One pass over every installed trigger (a no-op unless leading). */
  async check(): Promise<void> {
    if (this.checking) return this.checking;
    this.checking = this.pass()
      .catch((error: unknown) => this.logger.warn({ err: error }, 'trigger supervision pass failed; will try again'))
      .finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async pass(): Promise<void> {
    const fence = this.lease?.fence;
    if (!fence) return;
    const installed = await this.triggers.list();
    const names = new Set(installed.map((t) => t.name));
    // Containers of triggers no longer installed: ask them to stop, then remove them.
    for (const container of await this.scheduler.list(clusterLabels(this.clusterId))) {
      const labels = parseTriggerContainerLabels(container.labels);
      if (!labels || names.has(labels.trigger)) continue;
      if (!this.stillLeading(fence)) return;
      this.logger.info({ trigger: labels.trigger, container_id: container.id }, 'removing the container of an uninstalled trigger');
      await this.scheduler.stop(container.id, SHUTDOWN_GRACE_SECONDS).catch(() => undefined);
      await this.scheduler.remove(container.id);
      this.metrics.up.remove({ trigger: labels.trigger });
    }
    await Promise.all(installed.map((trigger) => this.supervise(trigger, fence).catch((error: unknown) => {
      this.logger.warn({ err: error, trigger: trigger.name }, 'supervising trigger failed; will try again');
    })));
  }

  private async supervise(trigger: TriggerEntity, fence: LeaseFence): Promise<void> {
    const name = triggerContainerName(this.clusterId, trigger.name);
    let container = await this.scheduler.inspectService(name);
    const labels = container && parseTriggerContainerLabels(container.labels);
    if (container && labels?.generation !== trigger.generation) {
      // Installed again with another image or settings: the old container goes first.
      if (!this.stillLeading(fence)) return;
      this.logger.info({ trigger: trigger.name, from: labels?.generation, to: trigger.generation }, 'replacing trigger container');
      if (container.running && container.address) await this.client.shutdown({ ...endpointOf(trigger), address: container.address }).catch(() => undefined);
      await this.scheduler.stop(container.id, SHUTDOWN_GRACE_SECONDS).catch(() => undefined);
      await this.scheduler.remove(container.id);
      if (container.address) this.client.forget(container.address);
      container = undefined;
    }
    // A container the engine is about to restart is the engine's to restart.
    if (!container?.running && !container?.restarting) {
      const wait = this.backoff.get(trigger.name);
      if (wait && Date.now() < wait.until) return;
      if (!this.stillLeading(fence)) return;
      try {
        container = await this.startContainer(trigger, name);
      } catch (error) {
        await this.failed(trigger, fence, container, `cannot start its container: ${(error as Error).message}`);
        return;
      }
    }
    if (!container) return;
    const endpoint = { ...endpointOf(trigger), address: container.address ?? '' };
    let info;
    try {
      info = await this.client.info(endpoint);
    } catch (error) {
      // Only a process that is running can still be starting. One that exited (the engine waits out its
      // restart backoff, e.g. a trigger that refused its install settings) is failing, however young:
      // startContainer "adopts" such a container on every pass, which would otherwise keep it `starting`.
      const exited = !container.running && container.exitCode !== undefined;
      const young = !exited && Date.now() - (this.startedAt.get(trigger.name) ?? container.startedAt?.getTime() ?? 0) < STARTUP_GRACE_MS;
      const why = exited
        ? `its container exited with code ${container.exitCode}${container.restarts > 0 ? ` (restarted ${container.restarts} time${container.restarts === 1 ? '' : 's'})` : ''}; see its logs: ${(error as Error).message}`
        : (error as Error).message;
      await this.observe(trigger, fence, container, young ? 'starting' : 'failing', why);
      this.metrics.up.set({ trigger: trigger.name }, 0);
      return;
    }
    let lastError = '';
    if (info.instanceId !== trigger.instanceId) {
      // A new process: it holds nothing, so it gets every active subscription.
      const subscriptions = await this.triggers.activeSubscriptionsOf(trigger.name);
      const refused: string[] = [];
      for (const row of subscriptions) {
        try {
          await this.client.subscribe(endpoint, subscriptionMessage(row));
        } catch (error) {
          refused.push(`${row.namespaceId}/${row.pipelineId} (${row.label})`);
          this.logger.warn({ err: error, trigger: trigger.name, namespace_id: row.namespaceId, pipeline_id: row.pipelineId, label: row.label }, 'the trigger refused a subscription it had accepted');
        }
      }
      // Counted, not named: any token may read a trigger's last error, and subscriptions belong to namespaces.
      if (refused.length > 0) lastError = `it refused ${refused.length} of its ${subscriptions.length} subscription(s) when they were sent again (the leading worker's log names them)`;
      this.logger.info({ trigger: trigger.name, instance_id: info.instanceId, subscriptions: subscriptions.length, refused: refused.length }, 'trigger (re)started: subscriptions sent');
    }
    this.backoff.delete(trigger.name);
    this.metrics.up.set({ trigger: trigger.name }, 1);
    await this.triggers.observe(trigger.name, trigger.generation, fence, {
      state: 'running', containerId: container.id, address: endpoint.address, instanceId: info.instanceId,
      description: info.description, settingsDoc: info.settings.map((s) => ({ key: s.key, required: s.required, description: s.description })),
      restarts: container.restarts, lastError,
    });
  }

  /**
   * Whether this process still holds the lease it began the pass under. Checked before each change to
   * containers: a pass can outlast a lease (stops wait for their grace), and a deposed leader must not
   * act on what it saw while it led.
   */
  private stillLeading(fence: LeaseFence): boolean {
    return this.lease?.fence?.token === fence.token;
  }

  private async startContainer(trigger: TriggerEntity, name: string): Promise<ServiceInfo | undefined> {
    const env: Record<string, string> = {
      GOFER_TRIGGER_NAME: trigger.name,
      GOFER_TRIGGER_KEY: trigger.key,
      GOFER_HOST: this.config.advertiseAddr,
    };
    for (const [key, value] of Object.entries(trigger.settings)) env[`GOFER_TRIGGER_SETTING_${key.toUpperCase()}`] = value;
    const started = await this.scheduler.startService({
      name,
      image: trigger.image,
      env,
      labels: triggerContainerLabels(this.clusterId, trigger.name, trigger.generation),
      portEnv: TRIGGER_PORT_ENV,
    });
    this.startedAt.set(trigger.name, Date.now());
    this.logger.info({ trigger: trigger.name, container_id: started.id, address: started.address, adopted: started.adopted }, started.adopted ? 'trigger container adopted' : 'trigger container started');
    return this.scheduler.inspectService(started.id);
  }

  private async failed(trigger: TriggerEntity, fence: LeaseFence, container: ServiceInfo | undefined, why: string): Promise<void> {
    const previous = this.backoff.get(trigger.name)?.failures ?? 0;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** previous);
    this.backoff.set(trigger.name, { failures: previous + 1, until: Date.now() + delay });
    this.metrics.up.set({ trigger: trigger.name }, 0);
    this.logger.warn({ trigger: trigger.name, retry_in_ms: delay, reason: why }, 'trigger container failed');
    await this.observe(trigger, fence, container, 'failing', `${why} (next try in ${Math.round(delay / 1000)}s)`);
  }

  private async observe(trigger: TriggerEntity, fence: LeaseFence, container: ServiceInfo | undefined, state: 'starting' | 'failing', lastError: string): Promise<void> {
    await this.triggers.observe(trigger.name, trigger.generation, fence, {
      state, containerId: container?.id ?? '', address: container?.address ?? '', restarts: container?.restarts ?? 0, lastError,
    });
  }
}
