import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { LOGGER } from '@gofer/config';
import { Transactions, TriggerNotInstalledError, TriggersRepository, type EntityManager, type TriggerEntity, type TriggerSubscriptionEntity } from '@gofer/dal';
import { failedPrecondition, GoferError, invalidArgument, notFound, unauthenticated } from '@gofer/errors';
import { EventLog } from '@gofer/events';
import { EXTENSION_NAME, idProblem, type PipelineConfig } from '@gofer/pipeline';
import type { TriggerSubscription } from '@gofer/proto';
import type { Logger } from 'pino';
import { TriggerClient, type TriggerEndpoint } from './trigger.client.js';

/** Install settings: at most this many, each key a future environment variable name. */
const MAX_SETTINGS = 50;
const SETTING_KEY = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const MAX_SETTING_VALUE = 4096;
const MAX_IMAGE = 512;

/** What an install asks for. */
export interface TriggerInstall {
  name: string;
  image: string;
  settings: Record<string, string>;
}

/** A pipeline's `triggers[]` entry, checked and ready to store. */
export interface PlannedSubscription {
  label: string;
  triggerName: string;
  settings: Record<string, string>;
}

/**
 * Installed triggers and the pipelines' subscriptions to them (docs/triggers.md). The supervisor
 * (trigger-supervisor.service.ts) runs the containers; this service is what the API and the use cases
 * call: install, uninstall, list; check a config's `triggers[]` against the installed triggers and their
 * own validation (Subscribe); keep the triggers' subscriptions in step with pipelines; authenticate
 * events by key.
 */
@Injectable()
export class TriggerService {
  constructor(
    private readonly triggers: TriggersRepository,
    private readonly transactions: Transactions,
    private readonly client: TriggerClient,
    private readonly events: EventLog,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** Installs a trigger, or replaces an installed one's image and settings (its container is replaced). */
  async install(request: TriggerInstall, options: { builtin?: boolean } = {}): Promise<TriggerEntity> {
    validateInstall(request);
    const existing = await this.triggers.get(request.name);
    const trigger = await this.triggers.upsert({
      name: request.name, image: request.image.trim(), settings: request.settings,
      key: existing?.key ?? newTriggerKey(), builtin: options.builtin ?? false,
    });
    await this.transactions.once((m) => this.events.append(m, { kind: existing ? 'trigger_updated' : 'trigger_installed', details: { trigger: request.name, image: trigger.image } }));
    this.logger.info({ trigger: request.name, image: trigger.image, generation: trigger.generation }, existing ? 'trigger updated' : 'trigger installed');
    return trigger;
  }

  /**
   * Installs a built-in at startup unless it is installed with this image and these settings already:
   * every replica calls it, and only a real change (a new version's image) replaces the container.
   */
  async installBuiltin(request: TriggerInstall): Promise<void> {
    validateInstall(request);
    await this.triggers.upsertIfChanged({ ...request, key: newTriggerKey(), builtin: true });
  }

  /** Uninstalls a trigger; refused while pipelines subscribe to it. The supervisor removes its container. */
  async uninstall(name: string): Promise<void> {
    const { deleted, subscribers } = await this.triggers.delete(name);
    if (subscribers.length > 0) {
      const list = subscribers.slice(0, 10).map((s) => `${s.namespaceId}/${s.pipelineId} (label "${s.label}")`).join(', ');
      const more = subscribers.length > 10 ? ` and ${subscribers.length - 10} more` : '';
      throw failedPrecondition(`trigger "${name}" is used by ${subscribers.length} pipeline subscription(s): ${list}${more}; remove it from their configs (or delete them) first`);
    }
    if (!deleted) throw notFound(`trigger "${name}" is not installed`);
    await this.transactions.once((m) => this.events.append(m, { kind: 'trigger_uninstalled', details: { trigger: name } }));
    this.logger.info({ trigger: name }, 'trigger uninstalled');
  }

  async list(): Promise<TriggerEntity[]> {
    return this.triggers.list();
  }

  /** Whether a trigger of this name is installed. */
  async exists(name: string): Promise<boolean> {
    return (await this.triggers.get(name)) !== null;
  }

  async get(name: string): Promise<TriggerEntity> {
    const trigger = await this.triggers.get(name);
    if (!trigger) throw notFound(`trigger "${name}" is not installed (see \`gofer trigger list\`)`);
    return trigger;
  }

  async subscriptionsOf(name: string): Promise<TriggerSubscriptionEntity[]> {
    return this.triggers.subscriptionsOf(name);
  }

  /**
   * Checks a config's `triggers[]`: each names an installed trigger, and the trigger accepts its
   * settings (Subscribe; a subscription the trigger starts here is the one the pipeline gets once
   * stored). Every problem is reported at once, each naming its field:
   * `triggers[0].trigger: trigger "cronn" is not installed …`, `triggers[1].settings.expression: …`.
   */
  async plan(namespaceId: string, config: PipelineConfig): Promise<{ planned: PlannedSubscription[]; subscribed: PlannedSubscription[] }> {
    const installed = new Map((await this.triggers.list()).map((t) => [t.name, t]));
    const existing = new Map((await this.triggers.subscriptionsOfPipeline(namespaceId, config.id)).map((s) => [s.label, s]));
    const problems: string[] = [];
    const planned: PlannedSubscription[] = [];
    const subscribed: PlannedSubscription[] = [];
    await Promise.all(config.triggers.map(async (entry, index) => {
      const trigger = installed.get(entry.trigger);
      if (!trigger) {
        const names = [...installed.keys()];
        problems.push(`triggers[${index}].trigger: trigger "${entry.trigger}" is not installed (${names.length > 0 ? `installed: ${names.join(', ')}` : 'none is installed'}; see \`gofer trigger install\`)`);
        return;
      }
      const before = existing.get(entry.label);
      const unchanged = before && before.triggerName === entry.trigger && sameSettings(before.settings, entry.settings);
      if (!unchanged) {
        try {
          await this.client.subscribe(endpointOf(trigger), {
            ref: { namespaceId, pipelineId: config.id, label: entry.label },
            settings: entry.settings,
            checkpoint: before?.triggerName === entry.trigger ? before.checkpoint : '',
            created: (before?.created ?? new Date()).getTime(),
          });
          subscribed.push({ label: entry.label, triggerName: entry.trigger, settings: entry.settings });
        } catch (error) {
          if (!(error instanceof GoferError)) throw error;
          const lines = error.code === 'invalid_argument' ? error.message.split('\n') : [error.message];
          for (const line of lines.filter(Boolean)) {
            problems.push(/^settings[.:]/.test(line) ? `triggers[${index}].${line}` : `triggers[${index}]: ${line}`);
          }
          return;
        }
      }
      planned.push({ label: entry.label, triggerName: entry.trigger, settings: entry.settings });
    }));
    if (problems.length > 0) {
      // The config is refused: the triggers that took a subscription above must forget it again.
      await this.revert(namespaceId, config.id, subscribed, [...existing.values()]);
      throw invalidArgument(problems.sort().join('\n'));
    }
    return { planned: planned.sort((a, b) => a.label.localeCompare(b.label)), subscribed };
  }

  /**
   * Undoes what {@link plan} sent to triggers for a config that was then not stored: each subscription
   * it sent goes back to its stored form, or is ended if none was stored. Best effort, like {@link sync}.
   */
  async revert(namespaceId: string, pipelineId: string, subscribed: PlannedSubscription[], stored: TriggerSubscriptionEntity[]): Promise<void> {
    if (subscribed.length === 0) return;
    const installed = new Map((await this.triggers.list()).map((t) => [t.name, t]));
    const byLabel = new Map(stored.map((row) => [row.label, row]));
    await Promise.all(subscribed.map(async (s) => {
      const trigger = installed.get(s.triggerName);
      const previous = byLabel.get(s.label);
      if (!trigger) return;
      const undo = previous && previous.triggerName === s.triggerName
        ? this.client.subscribe(endpointOf(trigger), subscriptionMessage(previous))
        : this.client.unsubscribe(endpointOf(trigger), { namespaceId, pipelineId, label: s.label });
      await undo.catch((error: unknown) => {
        this.logger.warn({ err: error, trigger: s.triggerName, namespace_id: namespaceId, pipeline_id: pipelineId, label: s.label }, 'could not undo a subscription of a refused config; the supervisor re-syncs the trigger when it restarts');
      });
    }));
  }

  /** Stores a pipeline's planned subscriptions, inside the transaction that stores its config. */
  async store(m: EntityManager, namespaceId: string, pipelineId: string, planned: PlannedSubscription[]): Promise<void> {
    try {
      await this.triggers.replacePipelineSubscriptions(m, namespaceId, pipelineId, planned);
    } catch (error) {
      if (error instanceof TriggerNotInstalledError) throw failedPrecondition(`${error.message}; apply the config again`);
      throw error;
    }
  }

  /** Every stored subscription of a namespace's pipelines (read before the namespace is deleted). */
  async subscriptionsOfNamespace(namespaceId: string): Promise<TriggerSubscriptionEntity[]> {
    return this.triggers.subscriptionsOfNamespace(namespaceId);
  }

  /** A pipeline's stored subscriptions (read before a change, to tell afterwards what it removed). */
  async subscriptionsOfPipeline(namespaceId: string, pipelineId: string): Promise<TriggerSubscriptionEntity[]> {
    return this.triggers.subscriptionsOfPipeline(namespaceId, pipelineId);
  }

  /**
   * Tells triggers what a stored change did: subscriptions in `before` but no longer stored are
   * unsubscribed; when `enabled` is false every stored one is (a disabled pipeline holds none), and
   * when it turns true every stored one is subscribed again. Best effort: a trigger that cannot be
   * reached now gets the right set from the supervisor when it is next (re)started.
   */
  async sync(
    namespaceId: string,
    pipelineId: string,
    before: TriggerSubscriptionEntity[],
    enabled: boolean | undefined,
    /** Labels whose subscription an apply sent: sent again as stored, so the last commit wins. */
    resend: readonly string[] = [],
  ): Promise<void> {
    const now = await this.triggers.subscriptionsOfPipeline(namespaceId, pipelineId);
    const kept = new Set(now.map((s) => `${s.label}\u0000${s.triggerName}`));
    const gone = before.filter((s) => !kept.has(`${s.label}\u0000${s.triggerName}`));
    const toUnsubscribe = enabled === false ? [...gone, ...now] : gone;
    const installed = new Map((await this.triggers.list()).map((t) => [t.name, t]));
    await Promise.all([
      ...toUnsubscribe.map(async (s) => {
        const trigger = installed.get(s.triggerName);
        if (!trigger) return;
        await this.client.unsubscribe(endpointOf(trigger), { namespaceId, pipelineId, label: s.label }).catch((error: unknown) => {
          this.logger.warn({ err: error, trigger: s.triggerName, namespace_id: namespaceId, pipeline_id: pipelineId, label: s.label }, 'unsubscribe failed; the supervisor re-syncs the trigger when it restarts');
        });
      }),
      ...(enabled === true ? now : enabled === undefined ? now.filter((s) => resend.includes(s.label)) : []).map(async (s) => {
        const trigger = installed.get(s.triggerName);
        if (!trigger) return;
        await this.client.subscribe(endpointOf(trigger), subscriptionMessage(s)).catch((error: unknown) => {
          this.logger.warn({ err: error, trigger: s.triggerName, namespace_id: namespaceId, pipeline_id: pipelineId, label: s.label }, 'subscribe failed; the supervisor re-syncs the trigger when it restarts');
        });
      }),
    ]);
  }

  /**
   * The installed trigger `name` if `key` is its key (compared in constant time); UNAUTHENTICATED
   * otherwise, with the same message for an unknown trigger and a wrong key.
   */
  async authenticate(name: string, key: string): Promise<TriggerEntity> {
    const trigger = name ? await this.triggers.get(name) : null;
    if (!trigger || !sameKey(trigger.key, key)) throw unauthenticated(`unknown trigger "${name}" or wrong trigger key`);
    return trigger;
  }

  /** Forwards a webhook to trigger `name`'s ExternalEvent; its answer is the HTTP response. */
  async externalEvent(name: string, request: { payload: Buffer; headers: Record<string, string>; method: string }): Promise<{ status: number; message: string }> {
    const trigger = await this.get(name);
    const answer = await this.client.externalEvent(endpointOf(trigger), request);
    return { status: answer.status, message: answer.message };
  }

  /** The subscription an event names, if it is one of `trigger`'s. */
  async subscription(trigger: string, namespaceId: string, pipelineId: string, label: string): Promise<TriggerSubscriptionEntity | undefined> {
    const row = await this.triggers.subscription(namespaceId, pipelineId, label);
    return row && row.triggerName === trigger ? row : undefined;
  }

  /** Records an accepted event on its subscription (its checkpoint, for the trigger's next start). */
  async recordEvent(row: TriggerSubscriptionEntity, idempotencyKey: string, checkpoint: string | undefined): Promise<void> {
    await this.triggers.recordEvent(row.namespaceId, row.pipelineId, row.label, row.triggerName, idempotencyKey, checkpoint);
  }
}

/** How Gofer reaches an installed trigger's container. */
export function endpointOf(trigger: TriggerEntity): TriggerEndpoint {
  return { name: trigger.name, address: trigger.address, key: trigger.key };
}

/** A stored subscription as the trigger contract sends it. */
export function subscriptionMessage(row: TriggerSubscriptionEntity): TriggerSubscription {
  return {
    ref: { namespaceId: row.namespaceId, pipelineId: row.pipelineId, label: row.label },
    settings: row.settings,
    checkpoint: row.checkpoint,
    created: row.created.getTime(),
  };
}

/** A new trigger key: 256 random bits. */
function newTriggerKey(): string {
  return `gtk_${randomBytes(32).toString('base64url')}`;
}

function sameKey(expected: string, given: string): boolean {
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b);
}

function sameSettings(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => b[k] === a[k]);
}

/** Every problem of an install request at once, each naming its field. */
function validateInstall(request: TriggerInstall): void {
  const problems: string[] = [];
  const nameProblem = idProblem(EXTENSION_NAME, 'name', request.name ?? '', { what: 'trigger name' });
  if (nameProblem) problems.push(nameProblem);
  const image = (request.image ?? '').trim();
  if (!image) problems.push('image: required, e.g. gofer/trigger-cron:0.1.0');
  else if (image.length > MAX_IMAGE || /\s|[\u0000-\u001f]/.test(image)) problems.push(`image: "${image.slice(0, 80)}" is not an image reference`);
  const entries = Object.entries(request.settings ?? {});
  if (entries.length > MAX_SETTINGS) problems.push(`settings: at most ${MAX_SETTINGS} (got ${entries.length})`);
  for (const [key, value] of entries.slice(0, MAX_SETTINGS)) {
    if (!SETTING_KEY.test(key)) problems.push(`settings.${key.slice(0, 64)}: keys are letters, digits and _ (starting with a letter), at most 64`);
    else if (value.length > MAX_SETTING_VALUE) problems.push(`settings.${key}: at most ${MAX_SETTING_VALUE} characters (got ${value.length})`);
    else if (value.includes('\u0000')) problems.push(`settings.${key}: NUL characters are not allowed`);
  }
  if (problems.length > 0) throw invalidArgument(problems.join('\n'));
}
