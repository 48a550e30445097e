import { Injectable } from '@nestjs/common';
import { NamespaceService, PipelineService, type ApplyCheck } from '@gofer/catalog';
import { Transactions, type PipelineEntity, type PipelineState, type RunEntity, type TriggerSubscriptionEntity } from '@gofer/dal';
import { GoferError, invalidArgument, notFound } from '@gofer/errors';
import { EventLog } from '@gofer/events';
import { idProblem, LABEL, NAMESPACE_ID, PIPELINE_ID, type ConfigTextFormat } from '@gofer/pipeline';
import { NotifierService } from '@gofer/notifiers';
import { ObjectService } from '@gofer/object-store';
import { TriggerService, TriggersMetrics, type PlannedSubscription, type TriggerEventOutcome } from '@gofer/triggers';
import { RunEngine, type StartRunOptions } from './run-engine.service.js';

/** One event posted by a trigger (PostTriggerEvent, proto/gofer/v1/trigger.proto). */
export interface TriggerEventRequest {
  trigger: string;
  namespaceId: string;
  pipelineId: string;
  label: string;
  idempotencyKey: string;
  variables: Record<string, string>;
  checkpoint: string;
}

/** How many refused unauthenticated trigger events a process records per minute (the metric counts all). */
const UNAUTHENTICATED_EVENTS_PER_MINUTE = 60;

/** At most `limit` takes per `windowMs` (a fixed window). */
class RateLimit {
  private windowStart = 0;
  private taken = 0;

  constructor(private readonly limit: number, private readonly windowMs: number) {}

  take(): boolean {
    const now = Date.now();
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.taken = 0;
    }
    return this.taken++ < this.limit;
  }
}

/** The longest idempotency key and checkpoint an event may carry (trigger.proto). */
const MAX_EVENT_KEY = 200;
const MAX_CHECKPOINT = 1024;

/**
 * What a caller can ask of Gofer that spans several owners, each as one method: the gRPC API, a
 * trigger and an HTTP API call these, so each does the same thing whatever the transport.
 */
@Injectable()
export class UseCases {
  constructor(
    private readonly engine: RunEngine,
    private readonly pipelines: PipelineService,
    private readonly namespaces: NamespaceService,
    private readonly objects: ObjectService,
    private readonly triggers: TriggerService,
    private readonly triggerMetrics: TriggersMetrics,
    private readonly events: EventLog,
    private readonly transactions: Transactions,
    private readonly notifiers: NotifierService,
  ) {}

  /**
   * Starts a run (or, for an idempotency key seen before, returns the run it started). The run that
   * this one pushes past the pipeline's last N runs has its run objects expired.
   */
  async startRun(namespaceId: string, pipelineId: string, variables: Record<string, string>, options: StartRunOptions = {}): Promise<RunEntity> {
    const run = await this.engine.startRun(namespaceId, pipelineId, variables, options);
    await this.objects.expireRunObjects(run.namespaceId, run.pipelineId, run.id);
    return run;
  }

  /** Starts a run that re-uses the successful results of complete run `runId` (RetryRun). */
  async retryRun(namespaceId: string, pipelineId: string, runId: number, startedBy?: string): Promise<RunEntity> {
    return this.startRun(namespaceId, pipelineId, {}, { retryOf: runId, startedBy });
  }

  /**
   * Stores a config as the pipeline's next version, then admits waiting runs at once if it raised (or
   * removed) the parallelism limit; if admitting fails, the reconciler admits them on its next pass.
   */
  async applyPipeline(namespaceId: string, raw: Uint8Array, format: ConfigTextFormat): Promise<{ pipeline: PipelineEntity; version: number }> {
    let before: TriggerSubscriptionEntity[] = [];
    let sent: { pipelineId: string; subscribed: PlannedSubscription[] } | undefined;
    // The config's triggers[] must name installed triggers that accept their settings; its
    // subscriptions are stored with the config.
    const triggers: ApplyCheck = async (ns, config) => {
      before = await this.triggers.subscriptionsOfPipeline(ns, config.id);
      const { planned, subscribed } = await this.triggers.plan(ns, config);
      sent = { pipelineId: config.id, subscribed };
      return (m) => this.triggers.store(m, ns, config.id, planned);
    };
    // Its notifiers[] must name installed notifiers (checked again, share-locked, as the config is stored).
    const notifiers: ApplyCheck = async (_ns, config) => {
      await this.notifiers.checkInstalled(config.notifiers);
      return (m) => this.notifiers.checkInstalled(config.notifiers, m);
    };
    let applied;
    try {
      applied = await this.pipelines.apply(namespaceId, raw, format, [triggers, notifiers]);
    } catch (error) {
      // Refused after the triggers took the new subscriptions (another check, the transaction).
      if (sent) await this.triggers.revert(namespaceId, sent.pipelineId, sent.subscribed, before);
      throw error;
    }
    const resend = (sent?.subscribed ?? []).map((s) => s.label);
    await this.triggers.sync(namespaceId, applied.pipeline.id, before, applied.pipeline.state === 'enabled' ? undefined : false, resend);
    await this.engine.admitPipeline(namespaceId, applied.pipeline.id).catch(() => undefined);
    return applied;
  }

  /** Enables or disables a pipeline; a disabled one holds no trigger subscriptions. */
  async setPipelineState(namespaceId: string, pipelineId: string, state: PipelineState): Promise<PipelineEntity> {
    const pipeline = await this.pipelines.setState(namespaceId, pipelineId, state);
    await this.triggers.sync(namespaceId, pipelineId, [], state === 'enabled');
    return pipeline;
  }

  /** Deletes a pipeline with its runs, then its objects and archived logs. */
  async deletePipeline(namespaceId: string, pipelineId: string): Promise<void> {
    const before = await this.triggers.subscriptionsOfPipeline(namespaceId, pipelineId);
    await this.pipelines.delete(namespaceId, pipelineId);
    await this.triggers.sync(namespaceId, pipelineId, before, false);
    await this.objects.removePipelineContent(namespaceId, pipelineId);
  }

  /** Deletes a namespace (with its pipelines when `force`), then their objects and archived logs. */
  async deleteNamespace(namespaceId: string, force: boolean): Promise<void> {
    const before = await this.triggers.subscriptionsOfNamespace(namespaceId);
    const pipelines = await this.namespaces.delete(namespaceId, force);
    for (const pipelineId of pipelines) {
      await this.triggers.sync(namespaceId, pipelineId, before.filter((s) => s.pipelineId === pipelineId), false);
      await this.objects.removePipelineContent(namespaceId, pipelineId);
    }
  }

  /**
   * Handles one trigger event: authenticates the trigger by its key, finds the subscription, and starts
   * a run with the event's variables, started by `trigger/<trigger>/<label>`. The event's idempotency
   * key goes into the run's unique key in the transaction that creates it, so a redelivered event
   * returns the first run. Refusals (unknown trigger, wrong key, unknown subscription) and events for a
   * disabled pipeline are recorded as events.
   */
  async postTriggerEvent(key: string, event: TriggerEventRequest): Promise<{ outcome: Exclude<TriggerEventOutcome, 'rejected'>; runId?: number }> {
    const received = Date.now();
    const refuse = async (error: GoferError, triggerName: string): Promise<never> => {
      this.triggerMetrics.events.inc({ trigger: triggerName, outcome: 'rejected' });
      await this.record('trigger_event_rejected', event, { reason: error.message });
      throw error;
    };
    const trigger = await this.triggers.authenticate(event.trigger, key).catch(async (error: GoferError): Promise<never> => {
      // Anyone can call this: an unauthenticated refusal is recorded outside every namespace (only
      // management tokens see it), and at most UNAUTHENTICATED_EVENTS_PER_MINUTE of them per process,
      // so a flood of bad calls cannot fill a namespace's event stream or the database.
      this.triggerMetrics.events.inc({ trigger: 'unknown', outcome: 'rejected' });
      if (this.unauthenticatedRecords.take()) {
        await this.record('trigger_event_rejected', { ...event, namespaceId: '', pipelineId: '' }, { reason: error.message });
      }
      throw error;
    });
    const problems = [
      idProblem(NAMESPACE_ID, 'ref.namespace_id', event.namespaceId),
      idProblem(PIPELINE_ID, 'ref.pipeline_id', event.pipelineId),
      idProblem(LABEL, 'ref.label', event.label),
      event.idempotencyKey ? undefined : 'idempotency_key: required (a fact about the event, e.g. a fire time or delivery id)',
      event.idempotencyKey.length > MAX_EVENT_KEY ? `idempotency_key: at most ${MAX_EVENT_KEY} characters (got ${event.idempotencyKey.length})` : undefined,
      event.checkpoint.length > MAX_CHECKPOINT ? `checkpoint: at most ${MAX_CHECKPOINT} characters (got ${event.checkpoint.length})` : undefined,
    ].filter((p): p is string => p !== undefined);
    if (problems.length > 0) return refuse(invalidArgument(problems.join('\n')), trigger.name);
    const subscription = await this.triggers.subscription(trigger.name, event.namespaceId, event.pipelineId, event.label);
    if (!subscription) {
      return refuse(notFound(`pipeline "${event.pipelineId}" in namespace "${event.namespaceId}" has no subscription "${event.label}" to trigger "${trigger.name}"`), trigger.name);
    }
    const pipeline = await this.pipelines.get(event.namespaceId, event.pipelineId);
    if (pipeline.state === 'disabled') {
      this.triggerMetrics.events.inc({ trigger: trigger.name, outcome: 'pipeline_disabled' });
      await this.record('trigger_event_received', event, { outcome: 'pipeline_disabled' });
      return { outcome: 'pipeline_disabled' };
    }
    let started;
    try {
      started = await this.engine.startRunOnce(event.namespaceId, event.pipelineId, event.variables, {
        idempotencyKey: `trigger/${event.label}/${event.idempotencyKey}`,
        startedBy: `trigger/${trigger.name}/${event.label}`,
      });
    } catch (error) {
      // Disabled between the check and the start.
      if (error instanceof GoferError && error.code === 'failed_precondition' && (await this.pipelines.get(event.namespaceId, event.pipelineId)).state === 'disabled') {
        this.triggerMetrics.events.inc({ trigger: trigger.name, outcome: 'pipeline_disabled' });
        await this.record('trigger_event_received', event, { outcome: 'pipeline_disabled' });
        return { outcome: 'pipeline_disabled' };
      }
      if (error instanceof GoferError && error.code === 'invalid_argument') return refuse(error, trigger.name);
      throw error;
    }
    const outcome = started.duplicate ? 'duplicate' : 'started';
    this.triggerMetrics.events.inc({ trigger: trigger.name, outcome });
    if (!started.duplicate) {
      this.triggerMetrics.eventToRunStart.observe({ trigger: trigger.name }, (Date.now() - received) / 1000);
      await this.objects.expireRunObjects(started.run.namespaceId, started.run.pipelineId, started.run.id);
    }
    await this.triggers.recordEvent(subscription, event.idempotencyKey, event.checkpoint || undefined);
    await this.record('trigger_event_received', event, { outcome, run_id: started.run.id });
    return { outcome, runId: started.run.id };
  }

  private readonly unauthenticatedRecords = new RateLimit(UNAUTHENTICATED_EVENTS_PER_MINUTE, 60_000);

  private async record(kind: string, event: TriggerEventRequest, details: Record<string, unknown>): Promise<void> {
    const known = !idProblem(NAMESPACE_ID, '', event.namespaceId) && !idProblem(PIPELINE_ID, '', event.pipelineId);
    await this.transactions.once((m) => this.events.append(m, {
      kind,
      // A refused event may name anything: only well-formed ids become the event's namespace/pipeline.
      namespaceId: known ? event.namespaceId : undefined,
      pipelineId: known ? event.pipelineId : undefined,
      details: {
        trigger: event.trigger.slice(0, 64), label: event.label.slice(0, 64), idempotency_key: event.idempotencyKey.slice(0, MAX_EVENT_KEY),
        ...details,
        ...(typeof details.reason === 'string' ? { reason: details.reason.slice(0, 512) } : {}),
      },
    })).catch(() => undefined);
  }
}
