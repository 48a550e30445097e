/**
 * `@gofer/sdk`: write Gofer triggers (`serveTrigger` and the `TriggerDefinition` it serves, over the
 * contract `proto/gofer/v1/trigger.proto`) and build pipeline configs in code. It imports nothing else
 * from the monorepo, so it packs and installs on its own.
 */
export * from './pipeline-builder.js';
export * from './trigger/trigger.js';
export { serveTrigger, type ServeTriggerOptions, type TriggerServer } from './trigger/serve-trigger.js';
export { GoferPostError, MAX_CHECKPOINT_LENGTH, MAX_IDEMPOTENCY_KEY_LENGTH, type PostRetryOptions } from './trigger/gofer-event.client.js';
export { TriggerEnvironmentError } from './trigger/trigger-environment.js';
export { MAX_EXTERNAL_PAYLOAD_BYTES, MAX_SETTINGS, MAX_SETTING_KEY_LENGTH, MAX_SETTING_VALUE_LENGTH } from './trigger/trigger-requests.js';
