// The `interval` trigger's image runs this (apps/trigger-interval/Dockerfile, bundled by scripts/extension-images.mjs).
import { serveTrigger } from '@gofer/sdk';
import { intervalTrigger } from './interval.trigger.js';

try {
  await serveTrigger(intervalTrigger());
} catch (error) {
  // One line for `docker logs` and `gofer trigger get`, not a stack.
  console.error(`trigger-interval: ${(error instanceof Error ? error.message : String(error)).replace(/:\s*\n\s*/g, ': ').replace(/\s*\n\s*/g, '; ')}`);
  process.exit(1);
}
