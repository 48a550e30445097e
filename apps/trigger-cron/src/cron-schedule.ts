import { Cron } from 'croner';
import { SettingsError, type SettingDoc } from '@gofer/sdk';

/** What happens to fires that passed while they could not be posted (docs/builtin-triggers.md). */
export type MissedPolicy = 'skip' | 'run_once';

const MISSED_POLICIES: readonly MissedPolicy[] = ['skip', 'run_once'];

/** A subscription's settings, checked: the schedule and what to do about missed fires. */
export interface CronSchedule {
  /** The expression as the pipeline wrote it (trimmed): GOFER_TRIGGER_CRON_EXPRESSION. */
  expression: string;
  /** Canonical IANA name, e.g. `UTC`, `America/New_York`. */
  timezone: string;
  missed: MissedPolicy;
  /** croner's parsed pattern; used only to compute fire times, never to schedule (the trigger does). */
  pattern: Cron;
}

/** The settings a cron subscription takes (Info shows them in `gofer trigger get cron`). */
export const CRON_SETTINGS: SettingDoc[] = [
  {
    key: 'expression',
    required: true,
    description:
      'When to fire: 5 fields (minute hour day-of-month month day-of-week, e.g. "30 2 * * *") or 6 with seconds first (e.g. "*/10 * * * * *"); nicknames like "@daily" too.',
  },
  { key: 'timezone', required: false, description: 'IANA time zone the expression is read in, e.g. "Europe/Berlin". Default UTC.' },
  {
    key: 'missed',
    required: false,
    description: 'Fires that passed while Gofer or the trigger was down: "skip" (default) starts nothing for them, "run_once" starts one run for the latest.',
  },
];

const KNOWN_SETTINGS = new Set(CRON_SETTINGS.map((s) => s.key));

/**
 * Checks a subscription's settings. Throws a {@link SettingsError} per problem (an AggregateError when
 * there are several), each naming its setting, e.g. `expression: "61 * * * *" is not a cron expression
 * (Invalid value for minute: 61)`.
 */
export function parseCronSchedule(settings: Readonly<Record<string, string>>): CronSchedule {
  const problems: SettingsError[] = [];
  for (const key of Object.keys(settings)) {
    if (!KNOWN_SETTINGS.has(key)) problems.push(new SettingsError(key, `unknown setting; cron takes ${[...KNOWN_SETTINGS].join(', ')}`));
  }

  const timezone = canonicalTimezone((settings.timezone ?? '').trim() || 'UTC');
  if (timezone === undefined) {
    problems.push(new SettingsError('timezone', `"${settings.timezone}" is not an IANA time zone (e.g. UTC, Europe/Berlin, America/New_York)`));
  }

  const missed = (settings.missed ?? '').trim() || 'skip';
  if (!MISSED_POLICIES.includes(missed as MissedPolicy)) {
    problems.push(new SettingsError('missed', `"${settings.missed}" is not a policy: use skip or run_once`));
  }

  const expression = (settings.expression ?? '').trim().replace(/\s+/g, ' ');
  let pattern: Cron | undefined;
  if (expression === '') {
    problems.push(new SettingsError('expression', 'required: a cron expression such as "0 3 * * *" (5 fields) or "*/30 * * * * *" (6, with seconds)'));
  } else {
    try {
      // `5-or-6-parts`: croner would also read a 7th (year) field, which Gofer does not promise.
      pattern = new Cron(expression, { timezone: timezone ?? 'UTC', mode: '5-or-6-parts' });
    } catch (error) {
      const reason = (error as Error).message.replace(/^Cron\w*:\s*/, '');
      problems.push(new SettingsError('expression', `"${expression}" is not a cron expression (${reason})`));
    }
    if (pattern && timezone !== undefined && pattern.nextRun() === null) {
      problems.push(new SettingsError('expression', `"${expression}" never fires (no date matches it)`));
    }
  }

  if (problems.length === 1) throw problems[0];
  if (problems.length > 1) throw new AggregateError(problems, problems.map((p) => `${p.key}: ${p.message}`).join('\n'));
  return { expression, timezone: timezone!, missed: missed as MissedPolicy, pattern: pattern! };
}

/** The first fire strictly after `after` (unix ms), or undefined if there is none. */
export function nextFire(schedule: CronSchedule, after: number): number | undefined {
  return schedule.pattern.nextRun(new Date(after))?.getTime();
}

/**
 * The latest fire in `(after, atOrBefore]` (unix ms), or undefined if none falls in it. croner's
 * `previousRuns` excludes a fire exactly at its reference, hence the extra millisecond.
 */
export function latestFire(schedule: CronSchedule, after: number, atOrBefore: number): number | undefined {
  const latest = schedule.pattern.previousRuns(1, new Date(atOrBefore + 1))[0]?.getTime();
  return latest !== undefined && latest > after ? latest : undefined;
}

/** `Europe/Berlin` as the runtime's ICU spells it (`utc` → `UTC`), or undefined if it knows no such zone. */
function canonicalTimezone(name: string): string | undefined {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}
