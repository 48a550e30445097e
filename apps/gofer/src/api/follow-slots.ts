import { Inject, Injectable } from '@nestjs/common';
import { GOFER_CONFIG, type GoferConfig } from '@gofer/config';
import { GoferError } from '@gofer/errors';

/** The long-lived follows an API process serves: live task logs and the event log. */
export type FollowKind = 'logs' | 'events';

/** Gives a slot back; calling it again does nothing. */
export type ReleaseSlot = () => void;

export interface FollowLimits {
  /** Follows of each kind the process serves at once. */
  perProcess: Record<FollowKind, number>;
  /** Follows of both kinds together one token holds at once on the process. */
  perToken: number;
}

const LIMIT_VARIABLES: Record<FollowKind, string> = {
  logs: 'GOFER_MAX_LOG_FOLLOWERS',
  events: 'GOFER_MAX_EVENT_FOLLOWERS',
};

/**
 * The follow slots of one API process. Every live follow holds a slot from the moment it starts
 * streaming until it ends, however it ends, so the counts are exact: taking a slot checks and counts
 * in one synchronous step, and a slot is given back exactly once.
 */
@Injectable()
export class FollowSlots {
  private readonly held: Record<FollowKind, number> = { logs: 0, events: 0 };
  private readonly heldByToken = new Map<string, number>();
  private readonly limits: FollowLimits;

  constructor(@Inject(GOFER_CONFIG) config: Pick<GoferConfig, 'maxLogFollowers' | 'maxEventFollowers' | 'maxFollowsPerToken'>) {
    this.limits = {
      perProcess: { logs: config.maxLogFollowers, events: config.maxEventFollowers },
      perToken: config.maxFollowsPerToken,
    };
  }

  /** Takes a slot for a follow of `kind` by `tokenId`, or throws RESOURCE_EXHAUSTED naming the limit reached. */
  take(kind: FollowKind, tokenId: string): ReleaseSlot {
    const mine = this.heldByToken.get(tokenId) ?? 0;
    if (mine >= this.limits.perToken) {
      throw new GoferError(
        'resource_exhausted',
        `token ${tokenId} already holds ${mine} live follows (logs and events) on this API process, its limit ` +
          `(GOFER_MAX_FOLLOWS_PER_TOKEN); end one of them, or read without --follow`,
      );
    }
    if (this.held[kind] >= this.limits.perProcess[kind]) {
      throw new GoferError('resource_exhausted', kind === 'logs'
        ? `this API process already follows ${this.held.logs} logs (${LIMIT_VARIABLES.logs}); try again, or read without --follow`
        : `this API process already serves ${this.held.events} event follows (${LIMIT_VARIABLES.events}); try again, or list without --follow`);
    }
    this.held[kind] += 1;
    this.heldByToken.set(tokenId, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held[kind] -= 1;
      const left = this.heldByToken.get(tokenId)! - 1;
      if (left === 0) this.heldByToken.delete(tokenId);
      else this.heldByToken.set(tokenId, left);
    };
  }

  /** Slots in use: of one kind, or held by one token. */
  inUse(of: { kind: FollowKind } | { tokenId: string }): number {
    return 'kind' in of ? this.held[of.kind] : (this.heldByToken.get(of.tokenId) ?? 0);
  }
}
