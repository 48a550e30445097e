import { createHmac } from 'node:crypto';
import pRetry, { AbortError } from 'p-retry';

/** The header carrying the body's signature when the notifier has a secret. */
export const SIGNATURE_HEADER = 'X-Gofer-Signature-256';

/**
 * `sha256=<hex HMAC-SHA256 of body keyed with secret>`, the form GitHub uses for X-Hub-Signature-256:
 * a receiver recomputes it over the raw body it got and compares in constant time.
 */
export function signature(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** What the notifier was configured with (GOFER_NOTIFIER_CONFIG_<KEY>) and what it sends. */
export interface WebhookSettings {
  url: URL;
  secret?: string;
  /** Tries in all. @default 5 */
  attempts: number;
  /** Per try. @default 10_000 */
  timeoutMs: number;
}

/** A setting is missing or malformed; the message names it. */
export class SettingsError extends Error {}

/** Reads the settings from the environment Gofer gives a notifier. */
export function readSettings(env: NodeJS.ProcessEnv): WebhookSettings {
  const raw = env.GOFER_NOTIFIER_CONFIG_URL;
  if (!raw) throw new SettingsError('setting "url" is required: install the notifier (or list it in the pipeline) with settings { url: https://… }');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SettingsError('setting "url" is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SettingsError(`setting "url" must be http or https, not ${url.protocol}`);
  const number = (name: string, fallback: number, min: number, max: number): number => {
    const text = env[`GOFER_NOTIFIER_CONFIG_${name.toUpperCase()}`];
    if (text === undefined || text === '') return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) throw new SettingsError(`setting "${name}" must be a whole number from ${min} to ${max}`);
    return value;
  };
  return {
    url,
    secret: env.GOFER_NOTIFIER_CONFIG_SECRET || undefined,
    attempts: number('attempts', 5, 1, 20),
    timeoutMs: number('timeout_seconds', 10, 1, 300) * 1000,
  };
}

/** The URL without credentials, query or fragment (any of which may hold a secret), for messages. */
export function describeUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/** An answer worth trying again: the server's trouble (5xx) or its rate limit (429). */
function retryable(status: number): boolean {
  return status >= 500 || status === 429;
}

/** How a delivery went. */
export interface Delivery {
  status: number;
  attempts: number;
}

/**
 * POSTs `body` (JSON) to the webhook, signed with the secret if there is one, trying again with
 * exponential backoff after a network error, a timeout, a 5xx or a 429 (not after other answers: a 4xx
 * will not change by asking again).
 *
 * @param backoff - the first wait between tries and its cap (doubling in between, randomized).
 * @throws Error saying what the last try got, after the last try failed.
 */
export async function deliver(
  settings: WebhookSettings,
  body: string,
  headers: Record<string, string> = {},
  backoff: { minMs: number; maxMs: number } = { minMs: 1000, maxMs: 30_000 },
): Promise<Delivery> {
  const allHeaders: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'gofer-notifier-webhook', ...headers };
  if (settings.secret) allHeaders[SIGNATURE_HEADER] = signature(body, settings.secret);
  let attempts = 0;
  try {
    return await pRetry(
      async () => {
        attempts++;
        const response = await fetch(settings.url, { method: 'POST', headers: allHeaders, body, signal: AbortSignal.timeout(settings.timeoutMs) });
        await response.body?.cancel().catch(() => undefined);
        if (response.ok) return { status: response.status, attempts };
        const error = new Error(`HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`);
        throw retryable(response.status) ? error : new AbortError(error);
      },
      { retries: settings.attempts - 1, factor: 2, minTimeout: backoff.minMs, maxTimeout: backoff.maxMs, randomize: true },
    );
  } catch (error) {
    throw new Error(`POST ${describeUrl(settings.url)} failed after ${attempts} ${attempts === 1 ? 'try' : 'tries'}: ${describeError(error)}`);
  }
}

/** One line for a failed try: an HTTP status, a timeout, or the network error's cause. */
function describeError(error: unknown): string {
  const e = error as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'timed out';
  if (e.cause?.code) return `${e.cause.code}${e.cause.message && !e.cause.message.includes(e.cause.code) ? ` ${e.cause.message}` : ''}`;
  // fetch's own refusals (a blocked port, a bad URL) carry only a message.
  if (e.cause?.message) return `${e.message}: ${e.cause.message}`;
  return e.message;
}
