import { SettingsError, type SettingDoc } from '@gofer/sdk';

/** Which deliveries a subscription wants. */
export interface GithubFilter {
  /** Event name → the actions wanted, or undefined for any action. */
  events: ReadonlyMap<string, ReadonlySet<string> | undefined>;
  /** `owner/name`, lower-cased; undefined for any repository. */
  repository?: string;
}

/** The settings a github subscription takes (Info shows them in `gofer trigger get github`). */
export const GITHUB_SETTINGS: SettingDoc[] = [
  {
    key: 'events',
    required: false,
    description:
      'Events to start runs for, separated by spaces or ";": "event" or "event/action1,action2", e.g. "push pull_request/opened,synchronize". Default "push".',
  },
  { key: 'repository', required: false, description: 'Only deliveries of this repository, "owner/name" (any case). Default: any.' },
];

const KNOWN_SETTINGS = new Set(GITHUB_SETTINGS.map((s) => s.key));
// GitHub's event and action names are lower-case words joined by underscores.
const ENTRY = /^([a-z][a-z_]*)(?:\/([a-z][a-z_]*(?:,[a-z][a-z_]*)*))?$/;
const REPOSITORY = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;

/** Checks a subscription's settings; a SettingsError per problem (an AggregateError if several), each naming its setting. */
export function parseGithubFilter(settings: Readonly<Record<string, string>>): GithubFilter {
  const problems: SettingsError[] = [];
  for (const key of Object.keys(settings)) {
    if (!KNOWN_SETTINGS.has(key)) problems.push(new SettingsError(key, `unknown setting; github takes ${[...KNOWN_SETTINGS].join(', ')}`));
  }

  const events = new Map<string, Set<string> | undefined>();
  const entries = (settings.events ?? '').split(/[\s;]+/).filter(Boolean);
  for (const entry of entries.length > 0 ? entries : ['push']) {
    const match = ENTRY.exec(entry);
    if (!match) {
      problems.push(new SettingsError('events', `"${entry}" is not "event" or "event/action1,action2" (e.g. push, pull_request/opened,synchronize)`));
      continue;
    }
    const [, event, actions] = match;
    // Listed twice: the union, and "any action" wins.
    const before = events.get(event!);
    if (events.has(event!) && before === undefined) continue;
    events.set(event!, actions === undefined ? undefined : new Set([...(before ?? []), ...actions.split(',')]));
  }

  const repository = (settings.repository ?? '').trim();
  if (repository !== '' && !REPOSITORY.test(repository)) {
    problems.push(new SettingsError('repository', `"${repository}" is not "owner/name" (e.g. octo-org/hello-world)`));
  }

  if (problems.length === 1) throw problems[0];
  if (problems.length > 1) throw new AggregateError(problems, problems.map((p) => `${p.key}: ${p.message}`).join('\n'));
  return { events, repository: repository === '' ? undefined : repository.toLowerCase() };
}

/** Whether a delivery (event, its payload's `action` and `repository.full_name`) passes `filter`. */
export function matches(filter: GithubFilter, event: string, action: string | undefined, repository: string | undefined): boolean {
  if (!filter.events.has(event)) return false;
  const actions = filter.events.get(event);
  if (actions !== undefined && (action === undefined || !actions.has(action))) return false;
  return filter.repository === undefined || filter.repository === repository?.toLowerCase();
}
