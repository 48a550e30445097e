import { SettingsError } from '@gofer/sdk';
import { describe, expect, it } from 'vitest';
import { latestFire, nextFire, parseCronSchedule } from './cron-schedule.js';

/** The setting keys and messages a parse threw, `key: message` each. */
function problems(settings: Record<string, string>): string[] {
  try {
    parseCronSchedule(settings);
  } catch (error) {
    const errors = error instanceof AggregateError ? error.errors : [error];
    return errors.map((e: unknown) => {
      expect(e).toBeInstanceOf(SettingsError);
      return `${(e as SettingsError).key}: ${(e as SettingsError).message}`;
    });
  }
  return [];
}

describe('parseCronSchedule', () => {
  const refused: Array<{ name: string; settings: Record<string, string>; expected: string[] }> = [
    { name: 'no expression', settings: {}, expected: ['expression: required'] },
    { name: 'a blank expression', settings: { expression: '  ' }, expected: ['expression: required'] },
    { name: 'minute out of range', settings: { expression: '61 * * * *' }, expected: ['expression: "61 * * * *" is not a cron expression (Invalid value for minute: 61)'] },
    { name: 'four fields', settings: { expression: '* * * *' }, expected: ['expression: "* * * *" is not a cron expression'] },
    { name: 'seven fields', settings: { expression: '0 0 0 1 1 * 2030' }, expected: ['expression: "0 0 0 1 1 * 2030" is not a cron expression'] },
    { name: 'a step of zero', settings: { expression: '*/0 * * * *' }, expected: ['expression: "*/0 * * * *" is not a cron expression (Syntax error, illegal stepping: 0)'] },
    { name: 'a date that never comes', settings: { expression: '0 0 30 2 *' }, expected: ['expression: "0 0 30 2 *" never fires'] },
    { name: 'an unknown time zone', settings: { expression: '0 * * * *', timezone: 'Mars/Olympus' }, expected: ['timezone: "Mars/Olympus" is not an IANA time zone'] },
    { name: 'an unknown policy', settings: { expression: '0 * * * *', missed: 'sometimes' }, expected: ['missed: "sometimes" is not a policy: use skip or run_once'] },
    { name: 'a misspelt setting', settings: { expresion: '0 * * * *' }, expected: ['expression: required', 'expresion: unknown setting; cron takes expression, timezone, missed'] },
    {
      name: 'every problem at once',
      settings: { expression: '99 * * * *', timezone: 'Nowhere', missed: 'twice' },
      expected: ['expression: "99 * * * *" is not a cron expression', 'missed: "twice" is not a policy', 'timezone: "Nowhere" is not an IANA time zone'],
    },
  ];
  it.each(refused)('refuses $name, naming the setting', ({ settings, expected }) => {
    const got = problems(settings).sort();
    expect(got).toHaveLength(expected.length);
    [...expected].sort().forEach((prefix, i) => expect(got[i]).toContain(prefix));
  });

  const accepted: Array<{ settings: Record<string, string>; expression: string; timezone: string; missed: string }> = [
    { settings: { expression: '0 3 * * *' }, expression: '0 3 * * *', timezone: 'UTC', missed: 'skip' },
    { settings: { expression: ' */10  * * * * * ' }, expression: '*/10 * * * * *', timezone: 'UTC', missed: 'skip' },
    { settings: { expression: '@daily', timezone: 'utc', missed: 'run_once' }, expression: '@daily', timezone: 'UTC', missed: 'run_once' },
    { settings: { expression: '30 2 * * MON-FRI', timezone: 'America/New_York' }, expression: '30 2 * * MON-FRI', timezone: 'America/New_York', missed: 'skip' },
  ];
  it.each(accepted)('accepts $settings', ({ settings, ...expected }) => {
    const schedule = parseCronSchedule(settings);
    expect({ expression: schedule.expression, timezone: schedule.timezone, missed: schedule.missed }).toEqual(expected);
  });
});

/** Fire times from `from` on, as ISO strings, until `until`. */
function firesBetween(expression: string, timezone: string, from: string, until: string): string[] {
  const schedule = parseCronSchedule({ expression, timezone });
  const fires: string[] = [];
  for (let t = nextFire(schedule, Date.parse(from)); t !== undefined && t <= Date.parse(until); t = nextFire(schedule, t)) {
    fires.push(new Date(t).toISOString());
  }
  return fires;
}

describe('fire times', () => {
  const cases: Array<{ name: string; expression: string; timezone: string; from: string; until: string; fires: string[] }> = [
    {
      name: '5 fields fire on the minute',
      expression: '*/20 * * * *',
      timezone: 'UTC',
      from: '2025-01-01T00:00:00.000Z',
      until: '2025-01-01T01:00:00.000Z',
      fires: ['2025-01-01T00:20:00.000Z', '2025-01-01T00:40:00.000Z', '2025-01-01T01:00:00.000Z'],
    },
    {
      name: '6 fields fire on the second',
      expression: '*/15 * * * * *',
      timezone: 'UTC',
      from: '2025-01-01T00:00:07.250Z',
      until: '2025-01-01T00:01:00.000Z',
      fires: ['2025-01-01T00:00:15.000Z', '2025-01-01T00:00:30.000Z', '2025-01-01T00:00:45.000Z', '2025-01-01T00:01:00.000Z'],
    },
    {
      name: 'a time zone moves the fire (Berlin is UTC+1 in winter, +2 in summer)',
      expression: '0 9 * * *',
      timezone: 'Europe/Berlin',
      from: '2025-03-29T00:00:00.000Z',
      until: '2025-03-31T00:00:00.000Z',
      fires: ['2025-03-29T08:00:00.000Z', '2025-03-30T07:00:00.000Z'],
    },
    {
      name: 'day-of-week names',
      expression: '0 12 * * SAT,SUN',
      timezone: 'UTC',
      from: '2025-01-01T00:00:00.000Z',
      until: '2025-01-08T00:00:00.000Z',
      fires: ['2025-01-04T12:00:00.000Z', '2025-01-05T12:00:00.000Z'],
    },
    // Daylight saving in America/New_York, 2025: clocks spring forward on 9 March at 02:00 EST to
    // 03:00 EDT (02:00–02:59 does not exist) and fall back on 2 November at 02:00 EDT to 01:00 EST
    // (01:00–01:59 happens twice). croner tells two kinds of job apart: one with a single second,
    // minute and hour ("fixed time", e.g. 30 2 * * *) and any other ("interval", e.g. 0 * * * *).
    {
      name: 'spring forward, fixed time in the missing hour: runs once, at 03:00 EDT, the first valid time after the gap',
      expression: '30 2 * * *',
      timezone: 'America/New_York',
      from: '2025-03-08T00:00:00.000Z',
      until: '2025-03-11T00:00:00.000Z',
      fires: ['2025-03-08T07:30:00.000Z', '2025-03-09T07:00:00.000Z', '2025-03-10T06:30:00.000Z'],
    },
    {
      name: 'spring forward, hourly: 02:00 does not exist and is skipped; fires stay one real hour apart',
      expression: '0 * * * *',
      timezone: 'America/New_York',
      from: '2025-03-09T04:30:00.000Z',
      until: '2025-03-09T08:00:00.000Z',
      // 00:00 EST, 01:00 EST, 03:00 EDT, 04:00 EDT
      fires: ['2025-03-09T05:00:00.000Z', '2025-03-09T06:00:00.000Z', '2025-03-09T07:00:00.000Z', '2025-03-09T08:00:00.000Z'],
    },
    {
      name: 'spring forward, a list in the missing hour is an interval job: both times are skipped that day',
      expression: '15,45 2 * * *',
      timezone: 'America/New_York',
      from: '2025-03-08T12:00:00.000Z',
      until: '2025-03-10T12:00:00.000Z',
      fires: ['2025-03-10T06:15:00.000Z', '2025-03-10T06:45:00.000Z'],
    },
    {
      name: 'fall back, fixed time after the repeated hour: 02:30 happens once (EST) and fires once',
      expression: '30 2 * * *',
      timezone: 'America/New_York',
      from: '2025-11-01T00:00:00.000Z',
      until: '2025-11-04T00:00:00.000Z',
      fires: ['2025-11-01T06:30:00.000Z', '2025-11-02T07:30:00.000Z', '2025-11-03T07:30:00.000Z'],
    },
    {
      name: 'fall back, fixed time in the repeated hour: 01:30 happens twice and fires once, on the first (EDT)',
      expression: '30 1 * * *',
      timezone: 'America/New_York',
      from: '2025-11-01T00:00:00.000Z',
      until: '2025-11-04T00:00:00.000Z',
      fires: ['2025-11-01T05:30:00.000Z', '2025-11-02T05:30:00.000Z', '2025-11-03T06:30:00.000Z'],
    },
    {
      name: 'fall back, hourly: 01:00 happens twice and fires twice; fires stay one real hour apart',
      expression: '0 * * * *',
      timezone: 'America/New_York',
      from: '2025-11-02T03:30:00.000Z',
      until: '2025-11-02T07:00:00.000Z',
      // 00:00 EDT, 01:00 EDT, 01:00 EST, 02:00 EST
      fires: ['2025-11-02T04:00:00.000Z', '2025-11-02T05:00:00.000Z', '2025-11-02T06:00:00.000Z', '2025-11-02T07:00:00.000Z'],
    },
    {
      name: 'fall back: resuming inside the repeated hour does not fire 01:30 a second time',
      expression: '30 1 * * *',
      timezone: 'America/New_York',
      from: '2025-11-02T06:00:00.000Z',
      until: '2025-11-03T12:00:00.000Z',
      fires: ['2025-11-03T06:30:00.000Z'],
    },
  ];
  it.each(cases)('$name', ({ expression, timezone, from, until, fires }) => {
    expect(firesBetween(expression, timezone, from, until)).toEqual(fires);
  });

  it('latestFire agrees with nextFire across both transitions, for every kind of job', () => {
    for (const expression of ['30 2 * * *', '30 1 * * *', '0 * * * *', '15,45 2 * * *', '*/20 1 * * *']) {
      const schedule = parseCronSchedule({ expression, timezone: 'America/New_York' });
      for (const [from, until] of [['2025-03-08T00:00:00Z', '2025-03-11T00:00:00Z'], ['2025-11-01T00:00:00Z', '2025-11-04T00:00:00Z']]) {
        const fires = firesBetween(expression, 'America/New_York', from, until).map(Date.parse);
        for (let t = Date.parse(from); t <= Date.parse(until); t += 5 * 60_000) {
          const expected = fires.filter((f) => f <= t).at(-1);
          expect(latestFire(schedule, Date.parse(from), t), `${expression} at ${new Date(t).toISOString()}`).toBe(expected);
        }
      }
    }
  });

  it('latestFire includes a fire exactly at its upper bound and excludes one at its lower bound', () => {
    const schedule = parseCronSchedule({ expression: '0 * * * *' });
    const one = Date.parse('2025-01-01T01:00:00.000Z');
    expect(latestFire(schedule, 0, one)).toBe(one);
    expect(latestFire(schedule, one, one + 3_599_999)).toBeUndefined();
    expect(latestFire(schedule, one - 1, one + 1)).toBe(one);
  });
});
