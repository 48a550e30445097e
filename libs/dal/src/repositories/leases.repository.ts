import { Inject, Injectable } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { DATA_SOURCE } from '../dal.tokens.js';

/** The `leases` table: who leads each duty until when, and the fencing token of that tenure. */
@Injectable()
export class LeasesRepository {
  constructor(@Inject(DATA_SOURCE) private readonly db: DataSource) {}

  /**
   * Takes or renews the lease of `duty` for `holder` until now + `ttlMs`: granted if nobody holds it,
   * `holder` does, or the holder's lease expired. A change of holder increments the token, so writes
   * fenced on the old holder's token fail from then on. Returns the token, or undefined if another
   * holder's lease is current. The database's clock decides, so processes' clocks need not agree.
   */
  async acquire(duty: string, holder: string, ttlMs: number): Promise<number | undefined> {
    const rows = await this.db.query<Array<{ token: string }>>(
      `INSERT INTO leases (duty, holder, token, expires) VALUES ($1, $2, 1, now() + $3 * interval '1 millisecond')
       ON CONFLICT (duty) DO UPDATE SET holder = EXCLUDED.holder, expires = EXCLUDED.expires,
         token = leases.token + CASE WHEN leases.holder = EXCLUDED.holder THEN 0 ELSE 1 END
       WHERE leases.holder = EXCLUDED.holder OR leases.expires < now()
       RETURNING token`,
      [duty, holder, ttlMs],
    );
    return rows[0] ? Number(rows[0].token) : undefined;
  }

  /** Gives the lease up (at shutdown) so another process takes over at once; only if `holder` holds it. */
  async release(duty: string, holder: string, token: number): Promise<void> {
    await this.db.query(`UPDATE leases SET expires = now() - interval '1 second' WHERE duty = $1 AND holder = $2 AND token = $3`, [duty, holder, token]);
  }

  /** The current holder of `duty` and its token, if its lease has not expired. */
  async current(duty: string): Promise<{ holder: string; token: number } | undefined> {
    const rows = await this.db.query<Array<{ holder: string; token: string }>>(
      `SELECT holder, token FROM leases WHERE duty = $1 AND expires > now()`,
      [duty],
    );
    return rows[0] ? { holder: rows[0].holder, token: Number(rows[0].token) } : undefined;
  }
}
