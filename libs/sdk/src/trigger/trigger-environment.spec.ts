import { describe, expect, it } from 'vitest';
import { readTriggerEnvironment, TriggerEnvironmentError, type TriggerEnvironmentOverrides } from './trigger-environment.js';

const FULL = { GOFER_TRIGGER_NAME: 'nightly-cron', GOFER_TRIGGER_KEY: 'k', GOFER_TRIGGER_PORT: '9000', GOFER_HOST: 'gofer:8080' };

describe('readTriggerEnvironment', () => {
  it('reads what Gofer passes a trigger container', () => {
    const env = { ...FULL, GOFER_TRIGGER_SETTING_WEBHOOK_SECRET: 's', GOFER_TRIGGER_SETTING_MIN: '1m', GOFER_TRIGGER_SETTING_: 'ignored', PATH: '/bin' };
    expect(readTriggerEnvironment('cron', env)).toEqual({
      name: 'nightly-cron',
      key: 'k',
      port: 9000,
      host: '0.0.0.0',
      goferHost: 'gofer:8080',
      settings: { webhook_secret: 's', min: '1m' },
    });
  });

  it('takes each override over the environment, and the definition name when none is given', () => {
    const overrides: TriggerEnvironmentOverrides = { key: 'o', port: 0, host: '127.0.0.1', goferHost: '127.0.0.1:1', settings: { a: 'b' } };
    expect(readTriggerEnvironment('cron', { ...FULL, GOFER_TRIGGER_NAME: '', GOFER_TRIGGER_SETTING_X: 'y' }, overrides)).toEqual({
      name: 'cron',
      key: 'o',
      port: 0,
      host: '127.0.0.1',
      goferHost: '127.0.0.1:1',
      settings: { a: 'b' },
    });
    expect(readTriggerEnvironment('cron', { GOFER_TRIGGER_KEY: 'k', GOFER_TRIGGER_PORT: '1' }).goferHost).toBeUndefined();
  });

  const refusals: { env: Record<string, string>; overrides?: TriggerEnvironmentOverrides; problems: string[] }[] = [
    {
      env: {},
      problems: [
        'GOFER_TRIGGER_KEY is not set: Gofer passes each trigger its key when it starts the container',
        'GOFER_TRIGGER_PORT is not set: the port to serve gofer.v1.Trigger on',
      ],
    },
    { env: { ...FULL, GOFER_TRIGGER_KEY: '' }, problems: ['GOFER_TRIGGER_KEY is not set: Gofer passes each trigger its key when it starts the container'] },
    { env: { ...FULL, GOFER_TRIGGER_PORT: 'http' }, problems: ['GOFER_TRIGGER_PORT must be a port number from 0 to 65535, not "http"'] },
    { env: { ...FULL, GOFER_TRIGGER_PORT: '65536' }, problems: ['GOFER_TRIGGER_PORT must be a port number from 0 to 65535, not "65536"'] },
    { env: { ...FULL, GOFER_TRIGGER_PORT: '-1' }, problems: ['GOFER_TRIGGER_PORT must be a port number from 0 to 65535, not "-1"'] },
    { env: FULL, overrides: { port: 1.5 }, problems: ['port must be a port number from 0 to 65535, not 1.5'] },
  ];
  it.each(refusals)('refuses $env with every problem', ({ env, overrides, problems }) => {
    let error: unknown;
    try {
      readTriggerEnvironment('cron', env, overrides);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TriggerEnvironmentError);
    expect((error as TriggerEnvironmentError).problems).toEqual(problems);
    expect((error as Error).message).toBe(`trigger ${env.GOFER_TRIGGER_NAME ?? 'cron'} cannot start:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  });
});
