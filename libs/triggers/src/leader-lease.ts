import type { LeaseFence, LeasesRepository } from '@gofer/dal';
import type { Logger } from 'pino';
import type { Gauge } from 'prom-client';

/**
 * Leadership of one duty among processes, by a lease row in Postgres (leases.repository.ts): the
 * holder renews it every third of its lifetime; anyone takes it once it has expired. Each change of
 * holder increments the lease's token, and the holder fences its writes on it, so a paused or
 * partitioned old leader that wakes up cannot overwrite what the new one wrote. A holder that cannot
 * renew in time stops acting before its lease can expire (it counts from when it last renewed).
 */
export class LeaderLease {
  private timer: NodeJS.Timeout | undefined;
  private held: LeaseFence | undefined;
  private renewedAt = 0;
  private ticking: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly leases: LeasesRepository,
    readonly duty: string,
    private readonly holder: string,
    private readonly ttlMs: number,
    private readonly logger: Logger,
    private readonly gauge?: Gauge<'duty'>,
    private readonly onChange?: (leading: boolean) => void,
  ) {}

  /** Tries at once, then every third of the lease's lifetime. */
  start(): void {
    this.stopped = false;
    void this.tick();
    this.timer = setInterval(() => void this.tick(), Math.max(100, Math.floor(this.ttlMs / 3)));
  }

  /** The fence to write under while leading; undefined when not (or no longer surely) the leader. */
  get fence(): LeaseFence | undefined {
    // Renewal failed for longer than two thirds of the lease: another process may take it soon.
    if (this.held && Date.now() - this.renewedAt > (this.ttlMs * 2) / 3) this.lose('lease renewal overdue');
    return this.held;
  }

  /** Stops renewing and gives the lease up, so another process takes the duty at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.ticking;
    const held = this.held;
    this.lose('shutting down');
    if (held) await this.leases.release(held.duty, held.holder, held.token).catch(() => undefined);
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.stopped) return;
    this.ticking = (async () => {
      const started = Date.now();
      try {
        const token = await this.leases.acquire(this.duty, this.holder, this.ttlMs);
        if (this.stopped) return;
        if (token === undefined) {
          this.lose('another process holds the lease');
          return;
        }
        if (this.held && this.held.token !== token) this.lose('the lease changed hands');
        const gained = !this.held;
        this.held = { duty: this.duty, holder: this.holder, token };
        this.renewedAt = started;
        if (gained) {
          this.logger.info({ duty: this.duty, token }, 'leading');
          this.gauge?.set({ duty: this.duty }, 1);
          this.onChange?.(true);
        }
      } catch (error) {
        this.logger.warn({ err: error, duty: this.duty }, 'lease renewal failed; will try again');
      } finally {
        this.ticking = undefined;
      }
    })();
    await this.ticking;
  }

  private lose(why: string): void {
    if (!this.held) return;
    this.logger.info({ duty: this.duty, token: this.held.token, why }, 'no longer leading');
    this.held = undefined;
    this.gauge?.set({ duty: this.duty }, 0);
    this.onChange?.(false);
  }
}
