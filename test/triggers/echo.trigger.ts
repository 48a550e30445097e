// A custom trigger written with the SDK, as a user would: it starts a run of every subscription when a
// webhook reaches POST /api/external/<name>, with the body's `key` as the idempotency key and its
// `vars` as variables. A subscription setting `reject` is refused (to test Subscribe's validation).
import { serveTrigger, SettingsError, type TriggerDefinition } from '@gofer/sdk';

const echo: TriggerDefinition = {
  name: 'echo',
  description: 'Starts a run of every subscription per webhook.',
  settings: [{ key: 'reject', required: false, description: 'Any value makes Subscribe refuse the subscription.' }],
  subscribe(subscription) {
    if (subscription.settings.reject !== undefined) throw new SettingsError('reject', `refused as asked ("${subscription.settings.reject}")`);
  },
  unsubscribe() {},
  async externalEvent(request, gofer) {
    let body: { key?: string; vars?: Record<string, string> };
    try {
      body = JSON.parse(request.payload.toString('utf8'));
    } catch {
      return { status: 400, message: 'the body is not JSON' };
    }
    if (!body.key) return { status: 400, message: 'key: required' };
    const results = await Promise.all(gofer.subscriptions().map((s) => gofer.post(s, { idempotencyKey: body.key!, variables: body.vars ?? {} })));
    return { status: 202, message: results.map((r) => `${r.outcome}:${r.runId ?? 0}`).join(',') || 'no subscriptions' };
  },
};

await serveTrigger(echo);
