// The `github` trigger's image runs this (apps/trigger-github/Dockerfile, bundled by scripts/extension-images.mjs).
import { serveTrigger } from '@gofer/sdk';
import { githubTrigger } from './github.trigger.js';

try {
  await serveTrigger(githubTrigger());
} catch (error) {
  // One line for `docker logs` and `gofer trigger get` (e.g. no webhook secret), not a stack.
  console.error(`trigger-github: ${(error instanceof Error ? error.message : String(error)).replace(/:\s*\n\s*/g, ': ').replace(/\s*\n\s*/g, '; ')}`);
  process.exit(1);
}
