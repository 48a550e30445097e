import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { Authorize, mayUseNamespace, TokenService } from '@gofer/auth';
import { invalidArgument, permissionDenied } from '@gofer/errors';
import { EventLog } from '@gofer/events';
import type * as pb from '@gofer/proto';
import type { Metadata, ServerWritableStream } from '@grpc/grpc-js';
import type { Observable } from 'rxjs';
import { FollowSlots } from './follow-slots.js';
import { Shutdown } from './shutdown.js';
import { holdingSlot, pacedStream, whileAuthorized } from './grpc-stream.js';
import { toEvent } from './proto-mapping.js';
import { principalOf } from './authorization.guard.js';

/** The most stored events `last` may ask for: a feed's history, not an export. */
const MAX_LAST = 10_000;

@Controller()
export class EventsGrpcController {
  constructor(
    private readonly events: EventLog,
    private readonly tokens: TokenService,
    private readonly slots: FollowSlots,
    private readonly shutdown: Shutdown,
  ) {}

  /**
   * Stored events the token may see, oldest first (none with `skip_existing`); with `follow`, new ones
   * as they commit. A follow holds a follow slot, and any stream ends once its token is deleted,
   * disabled or expired.
   */
  @Authorize('authenticated') // filtered to what the token may see
  @GrpcMethod('Gofer', 'ListEvents')
  listEvents(request: pb.ListEventsRequest, metadata: Metadata, call: ServerWritableStream<unknown, unknown>): Observable<pb.ListEventsResponse> {
    const principal = principalOf(metadata);
    const afterId = request.afterId ?? 0;
    if (!Number.isSafeInteger(afterId) || afterId < 0) throw invalidArgument(`after_id: ${afterId} is not an event id`);
    const last = request.last ?? 0;
    if (!Number.isSafeInteger(last) || last < 0 || last > MAX_LAST) throw invalidArgument(`last: ${last} is not a count of events from 0 to ${MAX_LAST}`);
    if (last > 0 && request.skipExisting) throw invalidArgument('last and skip_existing contradict each other: the newest stored events, or none of them');
    if (request.namespaceId && !mayUseNamespace(principal, request.namespaceId)) {
      throw permissionDenied(`token ${principal.tokenId} may not use namespace "${request.namespaceId}"`);
    }
    const filter = {
      namespaceId: request.namespaceId || undefined,
      visible: (namespaceId: string) => mayUseNamespace(principal, namespaceId),
      global: principal.kind === 'management',
    };
    const events = this.events;
    const follow = request.follow ?? false;
    const skipExisting = request.skipExisting ?? false;
    const stream = whileAuthorized(
      pacedStream(call, async function* (signal) {
        const start = skipExisting
          ? Math.max(afterId, await events.latestId())
          : last > 0 ? await events.startOfLast(last, afterId, filter) : afterId;
        for await (const event of events.follow(start, filter, { follow, signal })) {
          yield { event: toEvent(event) };
        }
      }),
      this.tokens,
      metadata,
    );
    return follow ? holdingSlot(() => this.slots.take('events', principal.tokenId), stream, this.shutdown.signal) : stream;
  }
}
