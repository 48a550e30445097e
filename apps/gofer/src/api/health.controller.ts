import { Controller, Get, HttpException, HttpStatus, Inject } from '@nestjs/common';
import { Authorize } from '@gofer/auth';
import { DATA_SOURCE, pingDatabase, type DataSource } from '@gofer/dal';
import { REDIS } from '@gofer/queue';
import type { Redis } from 'ioredis';
import { Shutdown } from './shutdown.js';

/** Liveness and readiness for load balancers and orchestrators. */
@Controller()
export class HealthController {
  constructor(
    @Inject(DATA_SOURCE) private readonly db: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly shutdown: Shutdown,
  ) {}

  @Authorize('public')
  @Get('healthz')
  healthz(): { status: string } {
    return { status: 'ok' };
  }

  /** Ready only while Postgres and Redis both answer, and not once shutdown has begun. */
  @Authorize('public')
  @Get('readyz')
  async readyz(): Promise<{ status: string; checks: Record<string, string> }> {
    const checks: Record<string, string> = {};
    const probe = async (name: string, fn: () => Promise<unknown>) => {
      try {
        await Promise.race([fn(), new Promise((_, reject) => setTimeout(() => reject(new Error('timed out after 2s')), 2000))]);
        checks[name] = 'ok';
      } catch (error) {
        checks[name] = (error as Error).message;
      }
    };
    await Promise.all([probe('postgres', () => pingDatabase(this.db)), probe('redis', () => this.redis.ping())]);
    if (this.shutdown.begun) checks.shutdown = 'shutting down';
    const ready = Object.values(checks).every((value) => value === 'ok');
    if (!ready) throw new HttpException({ status: 'unavailable', checks }, HttpStatus.SERVICE_UNAVAILABLE);
    return { status: 'ok', checks };
  }
}
