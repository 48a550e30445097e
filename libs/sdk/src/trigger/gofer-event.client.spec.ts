import { describe, expect, it } from 'vitest';
import { eventProblems, GoferEventClient, GoferPostError } from './gofer-event.client.js';
import type { SubscriptionRef, TriggerEvent } from './trigger.js';

const REF = { namespaceId: 'default', pipelineId: 'nightly', label: 'at_three' };

describe('events before posting', () => {
  const cases: [string, SubscriptionRef, TriggerEvent, string[]][] = [
    ['a good event', REF, { idempotencyKey: 'k', variables: { GOFER_TRIGGER_CRON_TIME: 't' }, checkpoint: 'c' }, []],
    ['the longest key and checkpoint', REF, { idempotencyKey: 'k'.repeat(200), checkpoint: 'c'.repeat(1024) }, []],
    ['an empty key', REF, { idempotencyKey: '' }, ['idempotencyKey: must be a non-empty string (a fact about the event, e.g. its fire time or delivery id)']],
    ['a long key', REF, { idempotencyKey: 'k'.repeat(201) }, ['idempotencyKey: must be at most 200 characters, not 201']],
    ['a long checkpoint', REF, { idempotencyKey: 'k', checkpoint: 'c'.repeat(1025) }, ['checkpoint: must be at most 1024 characters, not 1025']],
    ['a variable that is not a string', REF, { idempotencyKey: 'k', variables: { N: 3 as unknown as string } }, ['variables.N: must be a string, not number']],
    ['variables that are not an object', REF, { idempotencyKey: 'k', variables: ['x'] as unknown as Record<string, string> }, ['variables: must be an object of strings']],
    [
      'an incomplete subscription',
      { namespaceId: 'default' } as SubscriptionRef,
      { idempotencyKey: 'k' },
      ['subscription.pipelineId: must be a non-empty string', 'subscription.label: must be a non-empty string'],
    ],
  ];
  it.each(cases)('checks %s', (_name, ref, event, problems) => {
    expect(eventProblems(ref, event)).toEqual(problems);
  });

  it('rejects a bad event before dialing, and any event without GOFER_HOST', async () => {
    const client = new GoferEventClient({ trigger: 't', key: 'k', goferHost: undefined, signal: new AbortController().signal });
    const invalid = await client.post(REF, { idempotencyKey: '' }).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(GoferPostError);
    expect([(invalid as GoferPostError).codeName, (invalid as Error).message]).toEqual([
      'INVALID_ARGUMENT',
      'cannot post the event:\nidempotencyKey: must be a non-empty string (a fact about the event, e.g. its fire time or delivery id)',
    ]);
    const nowhere = await client.post(REF, { idempotencyKey: 'k' }).catch((e: unknown) => e);
    expect([(nowhere as GoferPostError).codeName, (nowhere as Error).message]).toEqual([
      'FAILED_PRECONDITION',
      'cannot post the event: GOFER_HOST is not set (Gofer sets it to the address of its gRPC API)',
    ]);
  });
});
