// The `cron` trigger's image runs this (apps/trigger-cron/Dockerfile, bundled by scripts/extension-images.mjs).
import { serveTrigger } from '@gofer/sdk';
import { cronTrigger } from './cron.trigger.js';

try {
  await serveTrigger(cronTrigger());
} catch (error) {
  // One line for `docker logs` and `gofer trigger get`, not a stack.
  console.error(`trigger-cron: ${(error instanceof Error ? error.message : String(error)).replace(/:\s*\n\s*/g, ': ').replace(/\s*\n\s*/g, '; ')}`);
  process.exit(1);
}
