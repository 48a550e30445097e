/** A webhook payload as parsed JSON; fields are read defensively, since every event has its own shape. */
export type GithubPayload = Record<string, unknown>;

/**
 * The run variables of one delivery: a few well-known fields, never the whole payload (a run's
 * variables are stored and shown; a payload can be megabytes). A variable is left out when its field
 * is absent from the event.
 *
 * | variable | from |
 * |---|---|
 * | GOFER_TRIGGER_GITHUB_EVENT | the `X-GitHub-Event` header |
 * | GOFER_TRIGGER_GITHUB_DELIVERY | the `X-GitHub-Delivery` header |
 * | GOFER_TRIGGER_GITHUB_ACTION | `action` |
 * | GOFER_TRIGGER_GITHUB_REPOSITORY | `repository.full_name` |
 * | GOFER_TRIGGER_GITHUB_SENDER | `sender.login` |
 * | GOFER_TRIGGER_GITHUB_REF | `ref` (push: `refs/heads/main`); for a pull request `refs/pull/<number>/head` |
 * | GOFER_TRIGGER_GITHUB_SHA | `pull_request.head.sha`, else `after` (push) |
 * | GOFER_TRIGGER_GITHUB_PULL_REQUEST | `pull_request.number` (or `issue.number` of a comment on a pull request) |
 * | GOFER_TRIGGER_GITHUB_HEAD_REF, _BASE_REF | `pull_request.head.ref`, `pull_request.base.ref` |
 */
export function deliveryVariables(event: string, delivery: string, payload: GithubPayload): Record<string, string> {
  const pullRequest = object(payload.pull_request);
  const issue = object(payload.issue);
  const number = scalar(pullRequest?.number) ?? (issue?.pull_request !== undefined ? scalar(issue.number) : undefined);
  const variables: Record<string, string | undefined> = {
    GOFER_TRIGGER_GITHUB_EVENT: event,
    GOFER_TRIGGER_GITHUB_DELIVERY: delivery,
    GOFER_TRIGGER_GITHUB_ACTION: scalar(payload.action),
    GOFER_TRIGGER_GITHUB_REPOSITORY: scalar(object(payload.repository)?.full_name),
    GOFER_TRIGGER_GITHUB_SENDER: scalar(object(payload.sender)?.login),
    GOFER_TRIGGER_GITHUB_REF: scalar(payload.ref) ?? (pullRequest && number !== undefined ? `refs/pull/${number}/head` : undefined),
    GOFER_TRIGGER_GITHUB_SHA: scalar(object(pullRequest?.head)?.sha) ?? scalar(payload.after),
    GOFER_TRIGGER_GITHUB_PULL_REQUEST: number,
    GOFER_TRIGGER_GITHUB_HEAD_REF: scalar(object(pullRequest?.head)?.ref),
    GOFER_TRIGGER_GITHUB_BASE_REF: scalar(object(pullRequest?.base)?.ref),
  };
  return Object.fromEntries(Object.entries(variables).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/** The payload's `action`, if it has one. */
export function actionOf(payload: GithubPayload): string | undefined {
  return scalar(payload.action);
}

/** The payload's `repository.full_name`, if it has one. */
export function repositoryOf(payload: GithubPayload): string | undefined {
  return scalar(object(payload.repository)?.full_name);
}

function object(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** A string (without NUL, which no environment variable can hold) or a number, as a string. */
function scalar(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'string' && value !== '' && !value.includes('\u0000')) return value;
  return undefined;
}
