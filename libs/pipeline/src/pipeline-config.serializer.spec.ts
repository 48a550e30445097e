import { describe, expect, it } from 'vitest';
import type { PipelineConfig } from './pipeline-config.js';
import { parsePipelineConfig } from './pipeline-config.parser.js';
import { toPipelineDocument } from './pipeline-config.serializer.js';
import { validatePipelineConfig } from './pipeline-config.validator.js';

function parsed(text: string): PipelineConfig {
  const result = parsePipelineConfig(text);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.config;
}

describe('toPipelineDocument', () => {
  it('writes a minimal config as a minimal document', () => {
    expect(toPipelineDocument(parsed('id: demo\ntasks: [{id: a, image: busybox}]\n'))).toStrictEqual({
      id: 'demo',
      tasks: [{ id: 'a', image: 'busybox' }],
    });
  });

  it('writes every field in the form users write it, and validates back to the same config', () => {
    const config = parsed(`
id: full
name: Full
description: Every field.
parallelism: 3
tasks:
  - id: a
    description: first
    image: busybox
    script: echo hi
    variables: { A: "pipeline_secret{{A}}" }
    retries: { attempts: 4, backoff: 1m30s }
    timeout: 90m
    registry_auth: { user: me, pass: "global_secret{{P}}" }
    inject_api_token: true
    resources: { cpu: 500m, memory: 1536Mi }
  - id: b
    image: alpine
    entrypoint: [/bin/bash]
    command: [-c, "true"]
    depends_on: { a: any }
    resources: { memory: 1G }
triggers:
  - { trigger: cron, label: nightly, settings: { expression: "0 3 * * *" } }
notifiers:
  - { notifier: log, label: console }
`);
    const document = toPipelineDocument(config);
    expect(document).toStrictEqual({
      id: 'full',
      name: 'Full',
      description: 'Every field.',
      parallelism: 3,
      tasks: [
        {
          id: 'a',
          image: 'busybox',
          description: 'first',
          entrypoint: ['/bin/sh', '-c'],
          command: ['echo hi'],
          variables: { A: 'pipeline_secret{{A}}' },
          retries: { attempts: 4, backoff: '1m30s' },
          timeout: '1h30m',
          registry_auth: { user: 'me', pass: 'global_secret{{P}}' },
          inject_api_token: true,
          resources: { cpu: 0.5, memory: '1536Mi' },
        },
        {
          id: 'b',
          image: 'alpine',
          entrypoint: ['/bin/bash'],
          command: ['-c', 'true'],
          depends_on: { a: 'any' },
          resources: { memory: '1000000000' },
        },
      ],
      triggers: [{ trigger: 'cron', label: 'nightly', settings: { expression: '0 3 * * *' } }],
      notifiers: [{ notifier: 'log', label: 'console' }],
    });
    expect(validatePipelineConfig(document)).toStrictEqual({ ok: true, config });
  });
});
