import { SettingsError, type GoferHandle, type SettingDoc, type Subscription, type SubscriptionRef, type TriggerDefinition } from '@gofer/sdk';
import { parseDuration } from './duration.js';

/** Options of {@link intervalTrigger}; the defaults are what the image runs with. */
export interface IntervalTriggerOptions {
  /**
   * How long after its slot a fire may still be accepted (it is also given up when the next slot is
   * due, whichever comes first). A slot Gofer does not accept by then is skipped. @default 10_000
   */
  lateLimitMs?: number;
}

/** The shortest `every` when the install does not set `min_interval`. */
export const DEFAULT_MIN_INTERVAL = '1m';

/** Node's timers take at most 2^31-1 ms; a slot further away is waited for in steps. */
const MAX_TIMER_MS = 6 * 60 * 60 * 1000;

const SETTINGS: SettingDoc[] = [
  {
    key: 'every',
    required: true,
    description: `Time between runs, e.g. "30s", "5m", "1h30m" (units h, m, s, ms); at least the install's min_interval (default ${DEFAULT_MIN_INTERVAL}).`,
  },
];

/**
 * The built-in `interval` trigger (docs/builtin-triggers.md): fires at `created + k·every`, aligned to
 * the subscription's creation so a restart keeps the phase, each slot posted with its time as
 * idempotency key and checkpoint. Slots that pass while the trigger is down, or that Gofer does not
 * accept in time, are skipped.
 */
export function intervalTrigger(options: IntervalTriggerOptions = {}): TriggerDefinition {
  const lateLimitMs = options.lateLimitMs ?? 10_000;
  const jobs = new Map<string, IntervalJob>();
  return {
    name: 'interval',
    description: 'Starts a run every fixed interval (every: 30s, 5m, 1h30m …), aligned to when the pipeline subscribed.',
    settings: SETTINGS,
    start(gofer) {
      minInterval(gofer.settings);
    },
    subscribe(subscription, gofer) {
      const every = parseEvery(subscription.settings, minInterval(gofer.settings));
      let job = jobs.get(subscription.key);
      if (!job) {
        job = new IntervalJob(subscription.key, gofer, lateLimitMs);
        jobs.set(subscription.key, job);
      }
      job.apply(subscription, every);
    },
    async unsubscribe(subscription) {
      const job = jobs.get(subscription.key);
      jobs.delete(subscription.key);
      await job?.end();
    },
    async shutdown() {
      const ending = [...jobs.values()].map((job) => job.end());
      jobs.clear();
      await Promise.all(ending);
    },
  };
}

/** The install's `min_interval` (GOFER_TRIGGER_SETTING_MIN_INTERVAL) in ms; a SettingsError if it is not a duration. */
function minInterval(settings: Readonly<Record<string, string>>): { ms: number; text: string } {
  const text = (settings.min_interval ?? '').trim() || DEFAULT_MIN_INTERVAL;
  const ms = parseDuration(text);
  if (ms === undefined) throw new SettingsError('min_interval', `"${text}" is not a duration: use e.g. 10s, 1m, 1h30m`);
  return { ms, text };
}

/** A subscription's `every`, checked against the minimum. */
export interface Every {
  ms: number;
  /** As the pipeline wrote it (trimmed): GOFER_TRIGGER_INTERVAL_EVERY. */
  text: string;
}

/** Checks a subscription's settings; a SettingsError per problem, each naming its setting. */
export function parseEvery(settings: Readonly<Record<string, string>>, min: { ms: number; text: string }): Every {
  const problems: SettingsError[] = [];
  for (const key of Object.keys(settings)) {
    if (key !== 'every') problems.push(new SettingsError(key, 'unknown setting; interval takes every'));
  }
  const text = (settings.every ?? '').trim();
  const ms = parseDuration(text);
  if (text === '') problems.push(new SettingsError('every', 'required: the time between runs, e.g. 30s, 5m, 1h30m'));
  else if (ms === undefined) problems.push(new SettingsError('every', `"${text}" is not a duration: use e.g. 30s, 5m, 1h30m (units h, m, s, ms)`));
  else if (ms < min.ms) {
    problems.push(
      new SettingsError('every', `"${text}" is shorter than the minimum interval ${min.text} (the install setting min_interval, GOFER_TRIGGER_SETTING_MIN_INTERVAL)`),
    );
  }
  if (problems.length === 1) throw problems[0];
  if (problems.length > 1) throw new AggregateError(problems, problems.map((p) => `${p.key}: ${p.message}`).join('\n'));
  return { ms: ms!, text };
}

/** One subscription's slots. A re-subscribe (same key) replaces the timer and keeps what was accepted. */
class IntervalJob {
  private ref!: SubscriptionRef;
  private every!: Every;
  private created = 0;
  /** The latest slot Gofer accepted (or the checkpoint it handed back), unix ms. */
  private accepted = Number.NEGATIVE_INFINITY;
  private firing: number | undefined;
  private next: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private readonly ended = new AbortController();

  constructor(
    private readonly key: string,
    private readonly gofer: GoferHandle,
    private readonly lateLimitMs: number,
  ) {}

  apply(subscription: Subscription, every: Every): void {
    this.ref = { namespaceId: subscription.namespaceId, pipelineId: subscription.pipelineId, label: subscription.label };
    this.every = every;
    this.created = subscription.created.getTime();
    const checkpoint = subscription.checkpoint === undefined ? Number.NaN : Date.parse(subscription.checkpoint);
    if (Number.isFinite(checkpoint)) this.accepted = Math.max(this.accepted, checkpoint);
    // Slots between the last accepted one and now are skipped: the next one is the first after now.
    this.arm(Math.max(Date.now(), this.accepted, this.firing ?? Number.NEGATIVE_INFINITY));
  }

  async end(): Promise<void> {
    this.ended.abort(new Error(`subscription ${this.key} ended`));
    clearTimeout(this.timer);
    await this.chain;
  }

  /** The first slot strictly after `after`. */
  private slotAfter(after: number): number {
    const k = after < this.created ? 1 : Math.floor((after - this.created) / this.every.ms) + 1;
    return this.created + k * this.every.ms;
  }

  private arm(after: number): void {
    clearTimeout(this.timer);
    this.next = this.slotAfter(after);
    this.wait();
  }

  private wait(): void {
    this.timer = setTimeout(() => this.onTimer(), Math.min(Math.max(this.next! - Date.now(), 0), MAX_TIMER_MS));
  }

  private onTimer(): void {
    if (this.ended.signal.aborted || this.next === undefined) return;
    const now = Date.now();
    if (now < this.next) return this.wait();
    // Normally `next`; a later slot only if the process stalled past several (those are skipped).
    const due = this.slotAfter(now) - this.every.ms;
    if (due > this.next) this.gofer.log.warn({ subscription: this.key, from: iso(this.next), to: iso(due - this.every.ms) }, 'slots passed while the process stalled; skipped');
    this.arm(due);
    this.chain = this.chain.then(() => this.fire(due));
  }

  private async fire(slot: number): Promise<void> {
    if (this.ended.signal.aborted) return;
    const deadline = Math.min(slot + this.every.ms, slot + this.lateLimitMs);
    const late = new AbortController();
    const timer = setTimeout(() => late.abort(new Error(`not accepted by ${iso(deadline)}`)), Math.max(deadline - Date.now(), 0));
    const time = iso(slot);
    this.firing = slot;
    try {
      const result = await this.gofer.post(
        this.ref,
        {
          idempotencyKey: time,
          checkpoint: time,
          variables: { GOFER_TRIGGER_INTERVAL_EVERY: this.every.text, GOFER_TRIGGER_INTERVAL_FIRE_TIME: time },
        },
        AbortSignal.any([late.signal, this.ended.signal]),
      );
      this.accepted = Math.max(this.accepted, slot);
      this.gofer.log.info({ subscription: this.key, fire_time: time, outcome: result.outcome, run_id: result.runId }, 'fired');
    } catch (error) {
      if (!this.ended.signal.aborted) this.gofer.log.warn({ subscription: this.key, fire_time: time, error }, 'Gofer did not accept the slot in time; skipped');
    } finally {
      clearTimeout(timer);
      this.firing = undefined;
    }
  }
}

function iso(time: number): string {
  return new Date(time).toISOString();
}
