import { Injectable } from '@nestjs/common';
import { GoferError } from '@gofer/errors';

/**
 * Whether this process has begun shutting down. From then on /readyz answers 503 (load balancers stop
 * sending it new work), live follows end with UNAVAILABLE and new ones are refused with it, so their
 * clients reconnect, through the cluster's entry point, to another replica and resume where they were
 * (GetTaskRunLogs `offset`, ListEvents `after_id`).
 */
@Injectable()
export class Shutdown {
  private readonly controller = new AbortController();

  /** Aborts when shutdown begins. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get begun(): boolean {
    return this.controller.signal.aborted;
  }

  begin(): void {
    this.controller.abort();
  }
}

/** What a follow ended (or refused) by a shutting-down replica answers. */
export function replicaShuttingDown(): GoferError {
  return new GoferError('unavailable', 'this API replica is shutting down; reconnect (to the cluster\'s entry point) and resume from the last offset or event id');
}
