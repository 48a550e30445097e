import type { GoferHandle, Subscription, SubscriptionRef, TriggerDefinition } from '@gofer/sdk';
import { CRON_SETTINGS, latestFire, nextFire, parseCronSchedule, type CronSchedule } from './cron-schedule.js';

/** Options of {@link cronTrigger}; the defaults are what the image runs with. */
export interface CronTriggerOptions {
  /**
   * How long after its time a fire may still be accepted and count as on time (it is also given up
   * when the next fire is due, whichever comes first). A fire Gofer does not accept by then is missed
   * and follows the subscription's `missed` policy. @default 10_000
   */
  lateLimitMs?: number;
}

/** Node's timers take at most 2^31-1 ms; a fire further away is waited for in steps. */
const MAX_TIMER_MS = 6 * 60 * 60 * 1000;

/**
 * The built-in `cron` trigger (docs/builtin-triggers.md): fires at the times a 5- or 6-field cron
 * expression names in a time zone, each fire posted with its time as idempotency key and checkpoint, so
 * two instances or a re-subscribe never double a fire, and a restart resumes after the last accepted one.
 * croner only computes fire times; the trigger arms one timer per subscription for the exact next time.
 */
export function cronTrigger(options: CronTriggerOptions = {}): TriggerDefinition {
  const lateLimitMs = options.lateLimitMs ?? 10_000;
  const jobs = new Map<string, CronJob>();
  return {
    name: 'cron',
    description: 'Starts runs on a cron schedule (5 or 6 fields, in any IANA time zone), with a policy for missed fires.',
    settings: CRON_SETTINGS,
    subscribe(subscription, gofer) {
      const schedule = parseCronSchedule(subscription.settings);
      let job = jobs.get(subscription.key);
      if (!job) {
        job = new CronJob(subscription.key, gofer, lateLimitMs);
        jobs.set(subscription.key, job);
      }
      job.apply(subscription, schedule);
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

/**
 * One subscription's schedule. Its state outlives a re-subscribe (same key): the new settings replace
 * the timer, while what was accepted, is being posted, or awaits catching up still counts, so a
 * re-subscribe never posts a fire twice.
 */
class CronJob {
  private ref!: SubscriptionRef;
  private schedule!: CronSchedule;
  /** The latest fire Gofer accepted (or the checkpoint it handed back), unix ms. */
  private accepted = Number.NEGATIVE_INFINITY;
  /** The on-time fire being posted now, if any. */
  private firing: number | undefined;
  /** `run_once`: the latest fire not yet delivered, posted (marked missed) as soon as Gofer takes it. */
  private missed: number | undefined;
  private catchUp: AbortController | undefined;
  private next: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Fires are posted one after another, in order. */
  private chain: Promise<void> = Promise.resolve();
  private readonly ended = new AbortController();

  constructor(
    private readonly key: string,
    private readonly gofer: GoferHandle,
    private readonly lateLimitMs: number,
  ) {}

  /** Takes (new) settings: applies the missed policy to fires since the last accepted one, then arms the timer. */
  apply(subscription: Subscription, schedule: CronSchedule): void {
    this.ref = { namespaceId: subscription.namespaceId, pipelineId: subscription.pipelineId, label: subscription.label };
    this.schedule = schedule;
    const checkpoint = this.parseCheckpoint(subscription.checkpoint);
    this.accepted = Math.max(this.accepted, checkpoint ?? Number.NEGATIVE_INFINITY);
    if (schedule.missed === 'skip') this.dropMissed();
    const now = Date.now();
    // Fires after the baseline (the last accepted fire, else the subscription's creation) and up to
    // now were never posted: the trigger was not running, or not holding this subscription.
    const baseline = Math.max(subscription.created.getTime(), this.accepted, this.firing ?? Number.NEGATIVE_INFINITY, this.missed ?? Number.NEGATIVE_INFINITY);
    const missed = latestFire(schedule, baseline, now);
    if (missed !== undefined) this.noteMissed(missed);
    this.arm(Math.max(now, this.accepted, this.firing ?? Number.NEGATIVE_INFINITY));
  }

  /** Stops the timer and every post of this subscription; settles once the fire being posted has stopped. */
  async end(): Promise<void> {
    this.ended.abort(new Error(`subscription ${this.key} ended`));
    clearTimeout(this.timer);
    this.catchUp?.abort();
    await this.chain;
  }

  /** Arms the timer for the first fire after `after`. */
  private arm(after: number): void {
    clearTimeout(this.timer);
    this.next = nextFire(this.schedule, after);
    if (this.next === undefined) {
      this.gofer.log.info({ subscription: this.key, expression: this.schedule.expression }, 'the expression has no more fire times');
      return;
    }
    this.wait();
  }

  private wait(): void {
    const delay = Math.min(Math.max(this.next! - Date.now(), 0), MAX_TIMER_MS);
    this.timer = setTimeout(() => this.onTimer(), delay);
  }

  private onTimer(): void {
    if (this.ended.signal.aborted || this.next === undefined) return;
    const now = Date.now();
    // Timers run on a monotonic clock and may wake a little before the wall-clock time (or long
    // before it, after MAX_TIMER_MS or a clock step back): wait the rest.
    if (now < this.next) return this.wait();
    const due = latestFire(this.schedule, this.next - 1, now) ?? this.next;
    // More than one fire is due only if the process stalled (a suspended machine, a blocked event
    // loop): the ones before the latest were missed.
    const stalled = latestFire(this.schedule, this.next - 1, due - 1);
    if (stalled !== undefined) this.noteMissed(stalled);
    this.arm(due);
    this.chain = this.chain.then(() => this.fire(due));
  }

  /**
   * Posts fire `due`, first the fire awaiting catch-up if any (so the checkpoint only moves forward).
   * Both are given up at the fire's deadline; an undelivered `due` is then missed.
   */
  private async fire(due: number): Promise<void> {
    if (this.ended.signal.aborted) return;
    const deadline = Math.min(nextFire(this.schedule, due) ?? Number.POSITIVE_INFINITY, due + this.lateLimitMs);
    const late = new AbortController();
    const timer = setTimeout(() => late.abort(new Error(`not accepted by ${new Date(deadline).toISOString()}`)), Math.max(deadline - Date.now(), 0));
    const signal = AbortSignal.any([late.signal, this.ended.signal]);
    this.firing = due;
    try {
      const pending = this.missed;
      if (pending !== undefined) {
        this.catchUp?.abort();
        if ((await this.post(pending, true, signal)) && this.missed === pending) this.missed = undefined;
      }
      if (!(await this.post(due, false, signal)) && !this.ended.signal.aborted) this.noteMissed(due);
    } finally {
      clearTimeout(timer);
      this.firing = undefined;
    }
  }

  /** A fire that was not delivered: `skip` forgets it, `run_once` keeps the latest and posts it until Gofer takes it. */
  private noteMissed(fire: number): void {
    if (this.schedule.missed === 'skip') {
      this.gofer.log.warn({ subscription: this.key, fire_time: iso(fire) }, 'missed a fire; skipped (missed: skip)');
      return;
    }
    if (this.missed !== undefined && this.missed >= fire) return;
    this.missed = fire;
    this.catchUp?.abort();
    const controller = new AbortController();
    this.catchUp = controller;
    void this.post(fire, true, AbortSignal.any([controller.signal, this.ended.signal])).then((ok) => {
      if (ok && this.missed === fire) this.missed = undefined;
    });
  }

  private dropMissed(): void {
    this.catchUp?.abort();
    this.catchUp = undefined;
    this.missed = undefined;
  }

  /** Posts one fire; true once Gofer accepted it (started a run, knew it already, or the pipeline is disabled). */
  private async post(fire: number, missed: boolean, signal: AbortSignal): Promise<boolean> {
    const time = iso(fire);
    try {
      const result = await this.gofer.post(
        this.ref,
        {
          idempotencyKey: time,
          checkpoint: time,
          variables: {
            GOFER_TRIGGER_CRON_FIRE_TIME: time,
            GOFER_TRIGGER_CRON_EXPRESSION: this.schedule.expression,
            GOFER_TRIGGER_CRON_TIMEZONE: this.schedule.timezone,
            GOFER_TRIGGER_CRON_MISSED: String(missed),
          },
        },
        signal,
      );
      this.accepted = Math.max(this.accepted, fire);
      this.gofer.log.info({ subscription: this.key, fire_time: time, missed, outcome: result.outcome, run_id: result.runId }, 'fired');
      return true;
    } catch (error) {
      if (!this.ended.signal.aborted && !(missed && signal.aborted)) {
        this.gofer.log.warn({ subscription: this.key, fire_time: time, missed, error }, 'Gofer did not accept the fire');
      }
      return false;
    }
  }

  private parseCheckpoint(checkpoint: string | undefined): number | undefined {
    if (checkpoint === undefined) return undefined;
    const time = /^\d{4}-\d\d-\d\dT/.test(checkpoint) ? Date.parse(checkpoint) : Number.NaN;
    if (Number.isFinite(time)) return time;
    this.gofer.log.warn({ subscription: this.key, checkpoint }, 'checkpoint is not a fire time; resuming from the subscription’s creation');
    return undefined;
  }
}

/** A fire time as the idempotency key, checkpoint and variable spell it: ISO 8601 UTC with milliseconds. */
function iso(time: number): string {
  return new Date(time).toISOString();
}
