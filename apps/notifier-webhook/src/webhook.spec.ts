import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { deliver, readSettings, SettingsError, signature, SIGNATURE_HEADER } from './webhook.js';

/** A local HTTP server answering each request with the next of `statuses` (the last one repeats). */
async function receiver(statuses: number[]): Promise<{ url: string; requests: Array<{ headers: IncomingHttpHeaders; body: string }>; server: Server }> {
  const requests: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      requests.push({ headers: request.headers, body });
      response.statusCode = statuses[Math.min(requests.length - 1, statuses.length - 1)]!;
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?token=hidden`, requests, server };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

const FAST = { minMs: 1, maxMs: 5 };
const body = JSON.stringify({ namespace: 'default', pipeline: 'hello', run: 4, status: 'failed' });
const settings = (url: string, extra: Record<string, string> = {}) =>
  readSettings({ GOFER_NOTIFIER_CONFIG_URL: url, ...extra });

describe('signature', () => {
  it('is GitHub\'s X-Hub-Signature-256 form: sha256= and the hex HMAC-SHA256 of the raw body', () => {
    // GitHub's documented test vector (docs.github.com, "Validating webhook deliveries").
    expect(signature('Hello, World!', "It's a Secret to Everybody")).toBe(
      'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17',
    );
  });
});

describe('deliver', () => {
  it('POSTs the summary as JSON, signed with the secret, and a receiver can verify it', async () => {
    const hook = await receiver([200]);
    const result = await deliver(settings(hook.url, { GOFER_NOTIFIER_CONFIG_SECRET: 's3cr3t' }), body, { 'X-Gofer-Delivery': 'default/hello/4/hook' }, FAST);
    expect(result).toEqual({ status: 200, attempts: 1 });
    const [request] = hook.requests;
    expect(request!.body).toBe(body);
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers['x-gofer-delivery']).toBe('default/hello/4/hook');
    const expected = Buffer.from(`sha256=${createHmac('sha256', 's3cr3t').update(request!.body).digest('hex')}`);
    const got = Buffer.from(String(request!.headers[SIGNATURE_HEADER.toLowerCase()]));
    expect(got.length === expected.length && timingSafeEqual(got, expected)).toBe(true);
  });

  it('sends no signature without a secret', async () => {
    const hook = await receiver([204]);
    await deliver(settings(hook.url), body, {}, FAST);
    expect(hook.requests[0]!.headers[SIGNATURE_HEADER.toLowerCase()]).toBeUndefined();
  });

  it('tries again after 5xx and 429 answers, then succeeds', async () => {
    const hook = await receiver([503, 429, 500, 201]);
    expect(await deliver(settings(hook.url), body, {}, FAST)).toEqual({ status: 201, attempts: 4 });
    expect(hook.requests.map((r) => r.body)).toEqual([body, body, body, body]);
  });

  it('gives up after its attempts with the last answer, naming the URL without its query', async () => {
    const hook = await receiver([502]);
    await expect(deliver(settings(hook.url, { GOFER_NOTIFIER_CONFIG_ATTEMPTS: '3' }), body, {}, FAST)).rejects.toThrow(
      new RegExp(`^POST ${hook.url.replace(/\?.*/, '').replace(/[.?]/g, '\\$&')} failed after 3 tries: HTTP 502 Bad Gateway$`),
    );
    expect(hook.requests).toHaveLength(3);
  });

  it('does not try again after a 4xx other than 429', async () => {
    const hook = await receiver([404, 200]);
    await expect(deliver(settings(hook.url), body, {}, FAST)).rejects.toThrow(/failed after 1 try: HTTP 404 Not Found$/);
    expect(hook.requests).toHaveLength(1);
  });

  it('tries again after network errors, then reports the last one', async () => {
    const hook = await receiver([200]);
    await new Promise((resolve) => hook.server.close(resolve)); // nothing listens on the port any more
    await expect(deliver(settings(hook.url, { GOFER_NOTIFIER_CONFIG_ATTEMPTS: '2' }), body, {}, FAST)).rejects.toThrow(
      /failed after 2 tries: ECONNREFUSED/,
    );
  });
});

describe('deliver to a port fetch refuses', () => {
  it('says why', async () => {
    await expect(deliver(settings('http://127.0.0.1:1/hook', { GOFER_NOTIFIER_CONFIG_ATTEMPTS: '1' }), body, {}, FAST)).rejects.toThrow(
      /failed after 1 try: fetch failed: bad port$/,
    );
  });
});

describe('readSettings', () => {
  it.each([
    [{}, /setting "url" is required/],
    [{ GOFER_NOTIFIER_CONFIG_URL: 'not a url' }, /setting "url" is not a URL/],
    [{ GOFER_NOTIFIER_CONFIG_URL: 'ftp://example.com/' }, /must be http or https/],
    [{ GOFER_NOTIFIER_CONFIG_URL: 'http://example.com/', GOFER_NOTIFIER_CONFIG_ATTEMPTS: '0' }, /setting "attempts" must be a whole number from 1 to 20/],
  ])('refuses %j', (env, message) => {
    expect(() => readSettings(env)).toThrow(SettingsError);
    expect(() => readSettings(env)).toThrow(message);
  });

  it('defaults to 5 tries of 10 seconds each', () => {
    expect(readSettings({ GOFER_NOTIFIER_CONFIG_URL: 'https://example.com/hook' })).toMatchObject({ attempts: 5, timeoutMs: 10_000, secret: undefined });
  });
});
