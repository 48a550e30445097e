import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigParser, PipelineService, type ApplyCheck } from '@gofer/catalog';
import { loadConfig, type GoferConfig } from '@gofer/config';
import {
  EventsRepository, NamespacesRepository, NotifiersRepository, openDataSource, PipelineConfigsRepository, PipelinesRepository, Transactions,
} from '@gofer/dal';
import { GoferError } from '@gofer/errors';
import { EventLog } from '@gofer/events';
import { NotifierService } from '@gofer/notifiers';
import { pino } from 'pino';
import type { DataSource } from 'typeorm';
import { createTestDatabase } from '../support/database.js';

const KEY = Buffer.alloc(32, 1).toString('base64');
const NEW_KEY = Buffer.alloc(32, 2).toString('base64');

/** NotifierService against real Postgres: validation, sealing, the uninstall rule and its race with apply. */
describe('NotifierService', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let dataSource: DataSource;
  let notifiers: NotifierService;
  let pipelines: PipelineService;
  const logger = pino({ level: 'silent' });

  const service = (config: GoferConfig) =>
    new NotifierService(new Transactions(dataSource, logger), new NotifiersRepository(dataSource), new EventLog(new EventsRepository(dataSource), config), config, logger);

  beforeAll(async () => {
    db = await createTestDatabase('notifiers');
    dataSource = await openDataSource(db.url);
    const config = loadConfig({ GOFER_ENCRYPTION_KEY: KEY });
    notifiers = service(config);
    pipelines = new PipelineService(
      new Transactions(dataSource, logger), new PipelinesRepository(dataSource), new PipelineConfigsRepository(dataSource),
      new NamespacesRepository(dataSource), logger, new EventLog(new EventsRepository(dataSource), config), new ConfigParser(),
    );
  });
  afterAll(async () => {
    await dataSource.destroy();
    await db.drop();
  });

  /** As UseCases.applyPipeline checks notifiers[]: before the transaction, and share-locked inside it. */
  const notifierCheck: ApplyCheck = async (_ns, config) => {
    await notifiers.checkInstalled(config.notifiers);
    return (m) => notifiers.checkInstalled(config.notifiers, m);
  };
  const apply = (yaml: string) => pipelines.apply('default', Buffer.from(yaml), 'auto', [notifierCheck]);
  const code = (promise: Promise<unknown>) => promise.then(() => 'ok', (error: unknown) => (error instanceof GoferError ? error.code : String(error)));

  it('installs with sealed settings that only open for that notifier, and shows their keys only', async () => {
    const installed = await notifiers.install({ name: 'team-hook', image: 'example.com/hook:1', settings: { url: 'https://x.example/hook', secret: 'hunter2' } });
    expect(installed).toMatchObject({ name: 'team-hook', image: 'example.com/hook:1', settingKeys: ['secret', 'url'], builtin: false });
    const [row] = await dataSource.query(`SELECT settings::text AS settings FROM notifiers WHERE name = 'team-hook'`);
    expect(row.settings).not.toContain('hunter2');
    const stored = (await notifiers.find('team-hook'))!;
    expect(notifiers.openSettings(stored)).toEqual({ url: 'https://x.example/hook', secret: 'hunter2' });
    // A sealed value copied to another notifier's row does not open there.
    await notifiers.install({ name: 'other', image: 'example.com/other:1', settings: { secret: 'x' } });
    await dataSource.query(`UPDATE notifiers SET settings = (SELECT settings FROM notifiers WHERE name = 'team-hook') WHERE name = 'other'`);
    expect(() => notifiers.openSettings({ ...stored, name: 'other' })).toThrow(/settings of notifier "other" cannot be decrypted/);
    await notifiers.uninstall('other');
    // Installing again replaces image and settings.
    expect(await notifiers.install({ name: 'team-hook', image: 'example.com/hook:2', settings: {} })).toMatchObject({ image: 'example.com/hook:2', settingKeys: [] });
    expect((await notifiers.list()).map((n) => n.name)).toEqual(['team-hook']);
  });

  it.each([
    [{ name: 'Bad Name', image: 'x' }, /^name: "Bad Name" is not a valid notifier name \(1 to 32 characters/],
    [{ name: '', image: 'x' }, /^name: required/],
    [{ name: 'ok', image: '' }, /^image: required/],
    [{ name: 'ok', image: 'has space' }, /^image: must not contain whitespace/],
    [{ name: 'ok', image: 'x', settings: { 'bad-key': 'v' } }, /^settings\.bad-key: not a valid setting name/],
    [{ name: 'ok', image: 'x', settings: { url: 'a', URL: 'b' } }, /^settings\.URL: the same variable as settings\.url \(GOFER_NOTIFIER_CONFIG_URL\)/],
  ])('refuses %j with INVALID_ARGUMENT', async (request, message) => {
    const error = await notifiers.install({ settings: {}, ...request }).catch((e: GoferError) => e);
    expect(error).toBeInstanceOf(GoferError);
    expect((error as GoferError).code).toBe('invalid_argument');
    expect((error as GoferError).message).toMatch(message);
  });

  it('refuses settings without an encryption key, but installs a notifier without settings', async () => {
    const keyless = service(loadConfig({}));
    await expect(keyless.install({ name: 'keyless', image: 'x', settings: { a: 'b' } })).rejects.toThrow(/settings are stored sealed, and the secret store is off/);
    await keyless.install({ name: 'keyless', image: 'x', settings: {} });
    await keyless.uninstall('keyless');
  });

  it('fails an apply naming a notifier that is not installed, naming each entry', async () => {
    await expect(apply('id: needs\ntasks: [{ id: a, image: x }]\nnotifiers:\n  - { notifier: team-hook, label: a }\n  - { notifier: nope, label: b }\n  - { notifier: nah, label: c }\n'))
      .rejects.toThrow(/^notifiers\[1\]\.notifier: notifier "nope" is not installed\nnotifiers\[2\]\.notifier: notifier "nah" is not installed$/);
  });

  it('refuses to uninstall a notifier the latest config of a pipeline lists, until it no longer does', async () => {
    await notifiers.install({ name: 'in-use', image: 'x', settings: {} });
    await apply('id: user-one\ntasks: [{ id: a, image: x }]\nnotifiers: [{ notifier: in-use, label: n }]\n');
    await expect(notifiers.uninstall('in-use')).rejects.toThrow(/^notifier "in-use" is listed in the notifiers of pipeline\(s\) default\/user-one: remove it/);
    await apply('id: user-one\ntasks: [{ id: a, image: x }]\n');
    await notifiers.uninstall('in-use');
    await expect(notifiers.uninstall('in-use')).rejects.toThrow(/^notifier "in-use" is not installed$/);
    await expect(notifiers.get('in-use')).rejects.toThrow(/^notifier "in-use" is not installed$/);
  });

  it('never lets an apply and an uninstall racing both succeed', async () => {
    for (let i = 0; i < 10; i++) {
      await notifiers.install({ name: 'racy', image: 'x', settings: {} });
      const [applied, uninstalled] = await Promise.all([
        code(apply(`id: racer-${i}\ntasks: [{ id: a, image: x }]\nnotifiers: [{ notifier: racy, label: n }]\n`)),
        code(notifiers.uninstall('racy')),
      ]);
      // Either the config is stored and names an installed notifier, or the notifier is gone and the apply refused.
      expect([applied, uninstalled]).toEqual(applied === 'ok' ? ['ok', 'failed_precondition'] : ['invalid_argument', 'ok']);
      if (applied === 'ok') await apply(`id: racer-${i}\ntasks: [{ id: a, image: x }]\n`);
      await notifiers.uninstall('racy').catch(() => undefined);
    }
  });

  it('installs the built-ins once, however many replicas start together, and leaves a user\'s own install alone', async () => {
    const config = loadConfig({ GOFER_ENCRYPTION_KEY: KEY, GOFER_BUILTIN_NOTIFIERS: 'log,webhook' });
    const replicas = [service(config), service(config), service(config)];
    await notifiers.install({ name: 'webhook', image: 'mine/webhook:7', settings: {} });
    await Promise.all(replicas.map((r) => r.installBuiltins((app) => `gofer/${app}:1.0.0`)));
    await Promise.all(replicas.map((r) => r.installBuiltins((app) => `gofer/${app}:1.0.0`)));
    expect(await notifiers.get('log')).toMatchObject({ image: 'gofer/notifier-log:1.0.0', builtin: true });
    expect(await notifiers.get('webhook')).toMatchObject({ image: 'mine/webhook:7', builtin: false });
    const events = await dataSource.query(`SELECT details FROM events WHERE kind = 'notifier_installed' AND details->>'notifier' = 'log'`);
    expect(events).toHaveLength(1);
    // A new version's images replace the built-ins' on the next start.
    await replicas[0]!.installBuiltins((app) => `gofer/${app}:1.1.0`);
    expect(await notifiers.get('log')).toMatchObject({ image: 'gofer/notifier-log:1.1.0' });
    // GOFER_BUILTIN_NOTIFIERS=none installs nothing.
    await notifiers.uninstall('log');
    await service(loadConfig({ GOFER_BUILTIN_NOTIFIERS: 'none' })).installBuiltins((app) => `gofer/${app}:1.1.0`);
    await expect(notifiers.get('log')).rejects.toThrow(/not installed/);
    await notifiers.uninstall('webhook');
  });

  it('re-seals settings with a new key during a rotation', async () => {
    await notifiers.install({ name: 'rotated', image: 'x', settings: { token: 't0k3n' } });
    const rotating = service(loadConfig({ GOFER_ENCRYPTION_KEY: NEW_KEY, GOFER_PREVIOUS_ENCRYPTION_KEYS: KEY }));
    expect(await rotating.reseal()).toBe(1);
    expect(await rotating.reseal()).toBe(0);
    const onlyNew = service(loadConfig({ GOFER_ENCRYPTION_KEY: NEW_KEY }));
    expect(onlyNew.openSettings((await onlyNew.find('rotated'))!)).toEqual({ token: 't0k3n' });
    await notifiers.uninstall('rotated');
  });
});
