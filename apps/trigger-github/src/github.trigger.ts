import { verify } from '@octokit/webhooks-methods';
import { MAX_IDEMPOTENCY_KEY_LENGTH, SettingsError, type ExternalRequest, type ExternalResponse, type GoferHandle, type PostResult, type SubscriptionRef, type TriggerDefinition } from '@gofer/sdk';
import { GITHUB_SETTINGS, matches, parseGithubFilter, type GithubFilter } from './github-filter.js';
import { actionOf, deliveryVariables, repositoryOf, type GithubPayload } from './github-variables.js';

/** Options of {@link githubTrigger}; the defaults are what the image runs with. */
export interface GithubTriggerOptions {
  /**
   * How long a delivery waits for its runs to start before it is answered anyway (202, posts go on):
   * GitHub gives up on a webhook after 10 seconds. @default 8_000
   */
  respondWithinMs?: number;
}

/**
 * The built-in `github` trigger (docs/builtin-triggers.md): GitHub webhooks reach it through Gofer's
 * `POST /api/external/<name>`. Each delivery's `X-Hub-Signature-256` is checked in constant time
 * against the raw body with the install setting `secret` (without which the trigger refuses to start);
 * every subscription whose filter matches gets an event keyed by the delivery id, so a redelivery never
 * starts a second run.
 */
export function githubTrigger(options: GithubTriggerOptions = {}): TriggerDefinition {
  const respondWithinMs = options.respondWithinMs ?? 8_000;
  const filters = new Map<string, { ref: SubscriptionRef; filter: GithubFilter }>();
  return {
    name: 'github',
    description: 'Starts runs for signed GitHub webhook deliveries (push, pull_request …), filtered by event, action and repository.',
    settings: GITHUB_SETTINGS,
    start(gofer) {
      secretOf(gofer);
    },
    subscribe(subscription) {
      const filter = parseGithubFilter(subscription.settings);
      const ref = { namespaceId: subscription.namespaceId, pipelineId: subscription.pipelineId, label: subscription.label };
      filters.set(subscription.key, { ref, filter });
    },
    unsubscribe(subscription) {
      filters.delete(subscription.key);
    },
    async externalEvent(request, gofer) {
      const checked = await checkDelivery(request, secretOf(gofer));
      if ('status' in checked) return checked;
      const { event, id, payload } = checked;
      if (event === 'ping') return { status: 200, message: `pong: the webhook reaches Gofer (delivery ${id})` };

      const action = actionOf(payload);
      const repository = repositoryOf(payload);
      const wanted = [...filters.values()].filter(({ filter }) => matches(filter, event, action, repository));
      const what = `event ${event}${action ? `/${action}` : ''}${repository ? ` of ${repository}` : ''}`;
      if (wanted.length === 0) return { status: 200, message: `no subscription matched ${what}; nothing started` };

      const variables = deliveryVariables(event, id, payload);
      const tally = { started: 0, duplicate: 0, disabled: 0, failed: 0 };
      const errors: string[] = [];
      const posts = wanted.map(({ ref }) =>
        gofer.post(ref, { idempotencyKey: id, variables }).then(
          (result: PostResult) => {
            tally[result.outcome === 'started' ? 'started' : result.outcome === 'duplicate' ? 'duplicate' : 'disabled']++;
            gofer.log.info({ delivery: id, event, pipeline_id: ref.pipelineId, namespace_id: ref.namespaceId, outcome: result.outcome, run_id: result.runId }, 'delivery posted');
          },
          (error: unknown) => {
            tally.failed++;
            errors.push((error as Error).message);
            gofer.log.warn({ delivery: id, event, pipeline_id: ref.pipelineId, namespace_id: ref.namespaceId, error }, 'posting a delivery failed');
          },
        ),
      );
      // Posts that outlast the deadline go on (the SDK retries them); the delivery is answered now.
      await settleWithin(posts, respondWithinMs);
      const pending = wanted.length - tally.started - tally.duplicate - tally.disabled - tally.failed;
      const summary =
        `${what}: ${tally.started} run(s) started, ${tally.duplicate} duplicate(s)` +
        (tally.disabled > 0 ? `, ${tally.disabled} pipeline(s) disabled` : '') +
        (pending > 0 ? `, ${pending} still being posted` : '') +
        (tally.failed > 0 ? `, ${tally.failed} failed (${errors[0]})` : '') +
        ` for ${wanted.length} matching subscription(s)`;
      // Nothing got through: tell GitHub, so the delivery shows as failed and can be redelivered.
      return { status: tally.failed === wanted.length ? 502 : 202, message: summary };
    },
  };
}

/** The install setting `secret`; a SettingsError (the trigger refuses to start) without it. */
function secretOf(gofer: GoferHandle): string {
  const secret = gofer.settings.secret ?? '';
  if (secret.trim() === '') {
    throw new SettingsError('secret', 'required: the webhook secret configured in GitHub; without it anyone could start runs with a forged delivery');
  }
  return secret;
}

/**
 * Checks a delivery: its signature first (401 for a missing or wrong one), then its headers and body
 * (400). Returns the response to send when it fails, else the delivery.
 */
async function checkDelivery(request: ExternalRequest, secret: string): Promise<ExternalResponse | { event: string; id: string; payload: GithubPayload }> {
  if (request.method.toUpperCase() !== 'POST') return { status: 405, message: `GitHub webhooks are POSTed, not sent with ${request.method}` };
  const signature = request.headers['x-hub-signature-256'];
  if (!signature) return { status: 401, message: 'missing X-Hub-Signature-256 header: give the webhook the secret this trigger was installed with' };
  const body = request.payload.toString('utf8');
  // verify() signs a string; a body that is not UTF-8 would not read back byte for byte, and GitHub never sends one.
  if (body === '' || !Buffer.from(body, 'utf8').equals(request.payload)) return { status: 400, message: 'the payload is empty or not UTF-8 text' };
  if (!(await verify(secret, body, signature))) {
    return { status: 401, message: "X-Hub-Signature-256 does not match the payload: the webhook's secret differs from this trigger's" };
  }

  const event = request.headers['x-github-event'];
  if (!event) return { status: 400, message: 'missing X-GitHub-Event header' };
  const id = request.headers['x-github-delivery'];
  if (!id) return { status: 400, message: 'missing X-GitHub-Delivery header' };
  if (id.length > MAX_IDEMPOTENCY_KEY_LENGTH) return { status: 400, message: `X-GitHub-Delivery is longer than ${MAX_IDEMPOTENCY_KEY_LENGTH} characters` };

  let json = body;
  // A webhook whose content type is application/x-www-form-urlencoded sends the JSON as `payload=`.
  if ((request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
    json = new URLSearchParams(body).get('payload') ?? '';
  }
  let payload: unknown;
  try {
    payload = JSON.parse(json);
  } catch (error) {
    return { status: 400, message: `the payload is not JSON: ${(error as Error).message}` };
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return { status: 400, message: 'the payload is not a JSON object' };
  return { event, id, payload: payload as GithubPayload };
}

/** Waits for `promises` (which never reject) to settle, at most `ms`. */
async function settleWithin(promises: Promise<void>[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  try {
    await Promise.race([Promise.all(promises), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
