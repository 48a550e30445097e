import { describe, expect, it } from 'vitest';
import { GoferError } from '@gofer/errors';
import { FollowSlots, type FollowKind } from './follow-slots.js';

const limits = { maxLogFollowers: 3, maxEventFollowers: 2, maxFollowsPerToken: 2 };

/** The error `take` threw, or undefined if it gave a slot. */
function refusal(slots: FollowSlots, kind: FollowKind, tokenId: string): GoferError | undefined {
  try {
    slots.take(kind, tokenId);
    return undefined;
  } catch (error) {
    return error as GoferError;
  }
}

describe('FollowSlots', () => {
  const cases: Array<{ name: string; held: Array<[FollowKind, string]>; take: [FollowKind, string]; refused?: RegExp }> = [
    { name: 'a first follow', held: [], take: ['logs', 'a'] },
    { name: 'a token under its limit', held: [['logs', 'a']], take: ['events', 'a'] },
    {
      name: 'a token at its limit, counting logs and events together',
      held: [['logs', 'a'], ['events', 'a']],
      take: ['logs', 'a'],
      refused: /^token a already holds 2 live follows \(logs and events\) .*\(GOFER_MAX_FOLLOWS_PER_TOKEN\)/,
    },
    { name: 'another token while one is at its limit', held: [['logs', 'a'], ['logs', 'a']], take: ['logs', 'b'] },
    {
      name: 'logs past the process limit',
      held: [['logs', 'a'], ['logs', 'b'], ['logs', 'c']],
      take: ['logs', 'd'],
      refused: /^this API process already follows 3 logs \(GOFER_MAX_LOG_FOLLOWERS\)/,
    },
    {
      name: 'events past the process limit',
      held: [['events', 'a'], ['events', 'b']],
      take: ['events', 'c'],
      refused: /^this API process already serves 2 event follows \(GOFER_MAX_EVENT_FOLLOWERS\)/,
    },
    { name: 'logs while events are full (separate process limits)', held: [['events', 'a'], ['events', 'b']], take: ['logs', 'c'] },
    {
      name: 'the token limit first when both are reached',
      held: [['events', 'a'], ['events', 'a']],
      take: ['events', 'a'],
      refused: /GOFER_MAX_FOLLOWS_PER_TOKEN/,
    },
  ];
  for (const { name, held, take, refused } of cases) {
    it(`${refused ? 'refuses' : 'gives a slot to'} ${name}`, () => {
      const slots = new FollowSlots(limits);
      for (const [kind, token] of held) slots.take(kind, token);
      const error = refusal(slots, ...take);
      if (!refused) return expect(error).toBeUndefined();
      expect(error).toBeInstanceOf(GoferError);
      expect(error).toMatchObject({ code: 'resource_exhausted', message: expect.stringMatching(refused) });
    });
  }

  it('gives a slot back once, however often it is released, and forgets tokens holding none', () => {
    const slots = new FollowSlots(limits);
    const release = slots.take('events', 'a');
    const other = slots.take('events', 'a');
    release();
    release();
    expect(slots.inUse({ kind: 'events' })).toBe(1);
    expect(slots.inUse({ tokenId: 'a' })).toBe(1);
    other();
    expect(slots.inUse({ kind: 'events' })).toBe(0);
    expect(slots.inUse({ tokenId: 'a' })).toBe(0);
    expect((slots as unknown as { heldByToken: Map<string, number> }).heldByToken.size).toBe(0);
  });

  it('a refusal takes nothing: fill, refuse many times, release all, fill again', () => {
    const slots = new FollowSlots(limits);
    for (let round = 0; round < 3; round++) {
      const releases = [slots.take('events', 'a'), slots.take('events', 'b')];
      for (let i = 0; i < 10; i++) expect(refusal(slots, 'events', 'c')).toBeDefined();
      for (const release of releases) release();
      expect(slots.inUse({ kind: 'events' })).toBe(0);
    }
  });
});
