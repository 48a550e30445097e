import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTriggerService, postTriggerEventCodec, TRIGGER_PROTO_FILE } from './trigger-proto.js';

describe('the SDK copy of trigger.proto', () => {
  it('is byte for byte the contract in proto/ (copy proto/gofer/v1/trigger.proto to libs/sdk/proto/gofer/v1/ after changing it)', () => {
    const contract = readFileSync(join(import.meta.dirname, '../../../../proto/gofer/v1/trigger.proto'), 'utf8');
    expect(readFileSync(TRIGGER_PROTO_FILE, 'utf8')).toBe(contract);
  });

  it('loads the Trigger service', () => {
    expect(Object.keys(loadTriggerService())).toEqual(['Info', 'Subscribe', 'Unsubscribe', 'ExternalEvent', 'Shutdown']);
  });

  it('encodes the event request with the field numbers of the contract', () => {
    const codec = postTriggerEventCodec();
    const bytes = codec.serialize({
      trigger: 'c',
      ref: { namespaceId: 'n', pipelineId: 'p', label: 'l' },
      idempotencyKey: 'k',
      variables: {},
    });
    // 1: "c"; 2: { 1: "n", 2: "p", 3: "l" }; 3: "k" (empty fields are not written).
    expect(bytes.toString('hex')).toBe('0a0163' + '1209' + '0a016e' + '120170' + '1a016c' + '1a016b');
    const full = codec.serialize({ trigger: 'c', ref: { namespaceId: 'n', pipelineId: 'p', label: 'l' }, idempotencyKey: 'k', variables: { A: 'b' }, checkpoint: 'x' });
    // … then 4: { 1: "A", 2: "b" } and 5: "x".
    expect(full.toString('hex').endsWith('2206' + '0a0141' + '120162' + '2a0178')).toBe(true);
    expect(codec.deserialize(Buffer.from('08021007', 'hex'))).toEqual({ outcome: 'TRIGGER_EVENT_OUTCOME_DUPLICATE', runId: 7 });
    expect(codec.deserialize(Buffer.alloc(0))).toEqual({ outcome: 'TRIGGER_EVENT_OUTCOME_UNSPECIFIED', runId: 0 });
  });
});
