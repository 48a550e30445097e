// The built-in `webhook` notifier: POSTs GOFER_RUN_SUMMARY (JSON) to GOFER_NOTIFIER_CONFIG_URL, with
// `X-Gofer-Signature-256` when GOFER_NOTIFIER_CONFIG_SECRET is set, retrying with backoff; exits 1 with
// a one-line reason once the last try failed (Gofer records it on the run). See docs/design.md §6.
import { deliver, describeUrl, readSettings, SettingsError } from './webhook.js';

async function main(): Promise<number> {
  const summary = process.env.GOFER_RUN_SUMMARY;
  if (!summary) {
    process.stderr.write('notifier-webhook: GOFER_RUN_SUMMARY is not set: this image is a Gofer notifier, run by Gofer after a run\n');
    return 2;
  }
  let settings;
  try {
    settings = readSettings(process.env);
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    process.stderr.write(`notifier-webhook: ${error.message}\n`);
    return 2;
  }
  // Lets a receiver recognise a redelivery (a retry after a lost answer) of the same notification.
  const delivery = ['GOFER_NAMESPACE', 'GOFER_PIPELINE_ID', 'GOFER_RUN_ID', 'GOFER_NOTIFIER_LABEL'].map((name) => process.env[name] ?? '').join('/');
  try {
    const { status, attempts } = await deliver(settings, summary, { 'X-Gofer-Delivery': delivery });
    process.stdout.write(`delivered to ${describeUrl(settings.url)}: HTTP ${status}${attempts > 1 ? ` after ${attempts} tries` : ''}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`notifier-webhook: ${(error as Error).message}\n`);
    return 1;
  }
}

process.exitCode = await main();
