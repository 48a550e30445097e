import { SettingsError, subscriptionKey, type GoferHandle, type PostResult, type Subscription, type TriggerDefinition, type TriggerEvent } from '@gofer/sdk';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseDuration } from './duration.js';
import { intervalTrigger, parseEvery } from './interval.trigger.js';

/** Gofer behind GoferHandle.post: dedupes by idempotency key; while `down`, holds posts until up or aborted. */
function fakeGofer(settings: Record<string, string> = {}) {
  const runs: Array<{ key: string; variables: Record<string, string>; checkpoint?: string }> = [];
  const seen = new Set<string>();
  const waiting = new Set<() => void>();
  let down = false;
  const accept = (ref: Parameters<GoferHandle['post']>[0], event: TriggerEvent): PostResult => {
    const id = `${subscriptionKey(ref)} ${event.idempotencyKey}`;
    if (seen.has(id)) return { outcome: 'duplicate' };
    seen.add(id);
    runs.push({ key: event.idempotencyKey, variables: event.variables ?? {}, checkpoint: event.checkpoint });
    return { outcome: 'started', runId: runs.length };
  };
  const gofer: GoferHandle = {
    post: (ref, event, signal) =>
      new Promise((resolve, reject) => {
        if (!down) return resolve(accept(ref, event));
        const retry = (): void => (waiting.delete(retry), resolve(accept(ref, event)));
        waiting.add(retry);
        signal?.addEventListener('abort', () => (waiting.delete(retry), reject(signal.reason)), { once: true });
      }),
    settings,
    subscriptions: () => [],
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    signal: new AbortController().signal,
  };
  return {
    gofer,
    runs,
    fired: () => runs.map((r) => r.key),
    setDown(value: boolean) {
      down = value;
      if (!down) for (const retry of [...waiting]) retry();
    },
  };
}

const CREATED = '2025-01-01T00:00:00.000Z';
function subscription(settings: Record<string, string>, extra: Partial<Subscription> = {}): Subscription {
  const ref = { namespaceId: 'default', pipelineId: 'poll', label: 'every' };
  return { ...ref, key: subscriptionKey(ref), settings, created: new Date(CREATED), ...extra };
}
const at = (iso: string): number => Date.parse(iso);

describe('parseDuration', () => {
  const cases: Array<[string, number | undefined]> = [
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['2m500ms', 120_500],
    ['1500ms', 1_500],
    ['90s', 90_000],
    ['1h2m3s4ms', 3_723_004],
    ['', undefined],
    ['0s', undefined],
    ['30', undefined],
    ['1m1h', undefined],
    ['1.5h', undefined],
    ['-1m', undefined],
    ['5 m', undefined],
    ['1d', undefined],
  ];
  it.each(cases)('%j → %j', (text, ms) => expect(parseDuration(text)).toBe(ms));
});

describe('parseEvery', () => {
  const oneMinute = { ms: 60_000, text: '1m' };
  const refused: Array<{ settings: Record<string, string>; min?: { ms: number; text: string }; message: string }> = [
    { settings: {}, message: 'every: required' },
    { settings: { every: 'often' }, message: 'every: "often" is not a duration' },
    { settings: { every: '30s' }, message: 'every: "30s" is shorter than the minimum interval 1m (the install setting min_interval, GOFER_TRIGGER_SETTING_MIN_INTERVAL)' },
    { settings: { every: '5m' }, min: { ms: 600_000, text: '10m' }, message: 'every: "5m" is shorter than the minimum interval 10m' },
    { settings: { every: '5m', evry: '1m' }, message: 'evry: unknown setting' },
  ];
  it.each(refused)('refuses $settings', ({ settings, min, message }) => {
    let thrown: unknown;
    try {
      parseEvery(settings, min ?? oneMinute);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SettingsError);
    const error = thrown as SettingsError;
    expect(`${error.key}: ${error.message}`).toContain(message);
  });

  it('accepts every at the minimum and above', () => {
    expect(parseEvery({ every: '1m' }, oneMinute)).toEqual({ ms: 60_000, text: '1m' });
    expect(parseEvery({ every: ' 1h30m ' }, oneMinute)).toEqual({ ms: 5_400_000, text: '1h30m' });
    expect(parseEvery({ every: '2s' }, { ms: 1_000, text: '1s' })).toEqual({ ms: 2_000, text: '2s' });
  });
});

describe('interval trigger', () => {
  let trigger: TriggerDefinition;
  let gofer: ReturnType<typeof fakeGofer>;

  beforeEach(() => {
    vi.useFakeTimers();
    trigger = intervalTrigger();
    gofer = fakeGofer({ min_interval: '1s' });
  });
  afterEach(async () => {
    await trigger.shutdown?.(gofer.gofer);
    vi.useRealTimers();
  });
  const advanceTo = (iso: string) => vi.advanceTimersByTimeAsync(at(iso) - Date.now());

  it('refuses to start with a min_interval that is not a duration', () => {
    expect(() => trigger.start!(fakeGofer({ min_interval: 'soon' }).gofer)).toThrow(expect.objectContaining({ key: 'min_interval' }));
    expect(() => trigger.start!(fakeGofer().gofer)).not.toThrow();
  });

  it('applies the default minimum of one minute', async () => {
    await expect(async () => trigger.subscribe(subscription({ every: '59s' }), fakeGofer().gofer)).rejects.toMatchObject({ key: 'every' });
  });

  it('fires at created + k·every with the slot as key, checkpoint and variable', async () => {
    vi.setSystemTime(at('2025-01-01T00:00:00.300Z'));
    await trigger.subscribe(subscription({ every: '30s' }), gofer.gofer);
    await advanceTo('2025-01-01T00:00:29.999Z');
    expect(gofer.runs).toEqual([]);
    await advanceTo('2025-01-01T00:01:30.000Z');
    expect(gofer.fired()).toEqual(['2025-01-01T00:00:30.000Z', '2025-01-01T00:01:00.000Z', '2025-01-01T00:01:30.000Z']);
    expect(gofer.runs[0]).toEqual({
      key: '2025-01-01T00:00:30.000Z',
      checkpoint: '2025-01-01T00:00:30.000Z',
      variables: { GOFER_TRIGGER_INTERVAL_EVERY: '30s', GOFER_TRIGGER_INTERVAL_FIRE_TIME: '2025-01-01T00:00:30.000Z' },
    });
  });

  it('keeps the phase across a restart and skips the slots it missed', async () => {
    // Created at 00:00:00 with every 1h30m; the trigger comes back at 04:10 after firing 01:30.
    vi.setSystemTime(at('2025-01-01T04:10:00.000Z'));
    await trigger.subscribe(subscription({ every: '1h30m' }, { checkpoint: '2025-01-01T01:30:00.000Z' }), gofer.gofer);
    await advanceTo('2025-01-01T06:00:00.000Z');
    expect(gofer.fired()).toEqual(['2025-01-01T04:30:00.000Z', '2025-01-01T06:00:00.000Z']);
  });

  it('a re-subscribe with the same key replaces the timer without doubling a slot', async () => {
    vi.setSystemTime(at('2025-01-01T00:00:00.500Z'));
    const sub = subscription({ every: '1s' });
    await trigger.subscribe(sub, gofer.gofer);
    await advanceTo('2025-01-01T00:00:02.000Z');
    await trigger.subscribe({ ...sub, checkpoint: '2025-01-01T00:00:01.000Z' }, gofer.gofer);
    await trigger.subscribe(sub, gofer.gofer);
    await advanceTo('2025-01-01T00:00:04.500Z');
    expect(gofer.fired()).toEqual(['2025-01-01T00:00:01.000Z', '2025-01-01T00:00:02.000Z', '2025-01-01T00:00:03.000Z', '2025-01-01T00:00:04.000Z']);
  });

  it('skips the slots Gofer cannot accept before the next one is due', async () => {
    vi.setSystemTime(at(CREATED));
    await trigger.subscribe(subscription({ every: '1s' }), gofer.gofer);
    await advanceTo('2025-01-01T00:00:01.500Z');
    gofer.setDown(true);
    await advanceTo('2025-01-01T00:00:05.500Z');
    gofer.setDown(false);
    await advanceTo('2025-01-01T00:00:06.500Z');
    // 2, 3 and 4 s were given up; 5 s was accepted half a second late, in time.
    expect(gofer.fired()).toEqual(['2025-01-01T00:00:01.000Z', '2025-01-01T00:00:05.000Z', '2025-01-01T00:00:06.000Z']);
  });

  it('unsubscribe stops the slots', async () => {
    vi.setSystemTime(at(CREATED));
    const sub = subscription({ every: '1s' });
    await trigger.subscribe(sub, gofer.gofer);
    await advanceTo('2025-01-01T00:00:01.000Z');
    await trigger.unsubscribe(sub, gofer.gofer);
    await advanceTo('2025-01-01T00:00:05.000Z');
    expect(gofer.fired()).toEqual(['2025-01-01T00:00:01.000Z']);
  });
});
