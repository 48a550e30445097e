import { Inject, Injectable } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { DATA_SOURCE } from '../dal.tokens.js';

/** The `workers` table: one row per live worker process, its heartbeat in `last_seen`. */
@Injectable()
export class WorkersRepository {
  constructor(@Inject(DATA_SOURCE) private readonly db: DataSource) {}

  /** Records that worker `id` is alive now (registering it on its first beat). */
  async heartbeat(id: string): Promise<void> {
    await this.db.query(
      `INSERT INTO workers (id, started, last_seen) VALUES ($1, now(), now())
       ON CONFLICT (id) DO UPDATE SET last_seen = now()`,
      [id],
    );
  }

  /** How many workers beat within the last `freshMs` milliseconds (the ones others do not consider dead). */
  async countAlive(freshMs: number): Promise<number> {
    const [row] = await this.db.query(
      `SELECT count(*)::int AS alive FROM workers WHERE last_seen > now() - $1 * interval '1 millisecond'`,
      [freshMs],
    );
    return (row as { alive: number }).alive;
  }

  /** Forgets workers not seen for a day (their attempts were adopted long ago). */
  async deleteLongGone(): Promise<void> {
    await this.db.query(`DELETE FROM workers WHERE last_seen < now() - interval '1 day'`);
  }

  /** Retires worker `id` (at shutdown), so others adopt its attempts at once. */
  async delete(id: string): Promise<void> {
    await this.db.query(`DELETE FROM workers WHERE id = $1`, [id]);
  }
}
