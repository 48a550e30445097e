import { describe, expect, it } from 'vitest';
import { SettingsError } from './trigger.js';
import { parseExternalEvent, parseSubscribe, parseUnsubscribe, RpcError, settingsProblems } from './trigger-requests.js';

const REF = { namespaceId: 'default', pipelineId: 'nightly', label: 'at_three' };

/** The INVALID_ARGUMENT message `parse` throws. */
function refusal(parse: () => unknown): string {
  try {
    parse();
  } catch (error) {
    expect(error).toBeInstanceOf(RpcError);
    expect((error as RpcError).code).toBe(3);
    return (error as RpcError).message;
  }
  throw new Error('expected a refusal');
}

describe('trigger requests', () => {
  it('turns a subscription message into a Subscription', () => {
    expect(parseSubscribe({ subscription: { ref: REF, settings: { expression: '0 3 * * *' }, checkpoint: 'c', created: 1000 } })).toEqual({
      ...REF,
      key: 'default/nightly/at_three',
      settings: { expression: '0 3 * * *' },
      checkpoint: 'c',
      created: new Date(1000),
    });
    const unset = parseSubscribe({ subscription: { ref: REF, settings: {}, checkpoint: '', created: 0 } });
    expect(unset.checkpoint).toBeUndefined();
    expect(unset.created.getTime()).toBeGreaterThan(0);
  });

  const refusals: [string, () => unknown, string][] = [
    ['no subscription', () => parseSubscribe({ subscription: null }), 'subscription: is required'],
    ['no ref', () => parseSubscribe({ subscription: { ref: null, settings: {}, checkpoint: '', created: 0 } }), 'subscription.ref: is required'],
    [
      'an empty ref',
      () => parseSubscribe({ subscription: { ref: { namespaceId: '', pipelineId: '', label: '' }, settings: {}, checkpoint: '', created: 0 } }),
      'subscription.ref.namespace_id: is required\nsubscription.ref.pipeline_id: is required\nsubscription.ref.label: is required',
    ],
    [
      'too many settings',
      () => parseSubscribe({ subscription: { ref: REF, settings: Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`k${i}`, ''])), checkpoint: '', created: 0 } }),
      'subscription.settings: 257 settings, at most 256',
    ],
    [
      'a long key and a long value',
      () => parseSubscribe({ subscription: { ref: REF, settings: { ['k'.repeat(300)]: 'v'.repeat(70_000) }, checkpoint: '', created: 0 } }),
      `subscription.settings.${'k'.repeat(32)}…: key longer than 256 characters\nsubscription.settings.${'k'.repeat(32)}…: value longer than 65536 characters`,
    ],
    ['an Unsubscribe without ref', () => parseUnsubscribe({ ref: null }), 'ref: is required'],
    ['an Unsubscribe without label', () => parseUnsubscribe({ ref: { ...REF, label: '' } }), 'ref.label: is required'],
  ];
  it.each(refusals)('refuses %s', (_name, parse, message) => {
    expect(refusal(parse)).toBe(message);
  });

  it('passes external events through', () => {
    const payload = Buffer.from('{"zen":"hi"}');
    expect(parseExternalEvent({ payload, headers: { 'x-github-event': 'ping' }, method: 'POST' })).toEqual({ payload, headers: { 'x-github-event': 'ping' }, method: 'POST' });
    expect(parseUnsubscribe({ ref: REF })).toEqual(REF);
  });

  it('reads settings problems out of SettingsErrors only', () => {
    const expression = new SettingsError('expression', '"61 * * * *" is not a cron expression (minute 61 is out of range)');
    const timezone = new SettingsError('timezone', 'is not a time zone');
    expect(settingsProblems(expression)).toEqual(['settings.expression: "61 * * * *" is not a cron expression (minute 61 is out of range)']);
    expect(settingsProblems(new AggregateError([expression, timezone]))).toEqual(['settings.expression: "61 * * * *" is not a cron expression (minute 61 is out of range)', 'settings.timezone: is not a time zone']);
    expect(settingsProblems([timezone])).toEqual(['settings.timezone: is not a time zone']);
    expect(settingsProblems(new AggregateError([expression, new Error('other')]))).toBeUndefined();
    expect(settingsProblems(new AggregateError([]))).toBeUndefined();
    expect(settingsProblems(new Error('x'))).toBeUndefined();
  });
});
