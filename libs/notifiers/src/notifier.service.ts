import { Inject, Injectable } from '@nestjs/common';
import { GOFER_CONFIG, LOGGER, type GoferConfig } from '@gofer/config';
import { NotifiersRepository, Transactions, type EntityManager, type NotifierEntity } from '@gofer/dal';
import { failedPrecondition, invalidArgument, notFound } from '@gofer/errors';
import { EventLog } from '@gofer/events';
import { EXTENSION_NAME, idProblem, PIPELINE_LIMITS, VARIABLE_NAME, type NotifierSubscription } from '@gofer/pipeline';
import { decodeSealed, encodeSealed, Keyring, SecretDecryptError } from '@gofer/secrets';
import type { Logger } from 'pino';
import { builtinNotifierApp, type BuiltinNotifier } from './builtin-notifiers.js';
import { settingVariable } from './run-summary.js';

/** What `gofer notifier install` asks for. */
export interface InstallNotifier {
  name: string;
  image: string;
  /** Defaults of the notifier's `GOFER_NOTIFIER_CONFIG_<KEY>`; stored sealed. */
  settings: Record<string, string>;
}

/** An installed notifier as the API shows it: its settings' keys, never their values. */
export interface NotifierView {
  name: string;
  image: string;
  settingKeys: string[];
  builtin: boolean;
  installed: Date;
}

const MAX_SETTINGS = 64;
const MAX_SETTINGS_BYTES = 64 * 1024;
/** Pipelines named in the refusal of an uninstall; more are counted. */
const LISTED_PIPELINES_SHOWN = 20;

function view(row: NotifierEntity): NotifierView {
  return { name: row.name, image: row.image, settingKeys: Object.keys(row.settings).sort(), builtin: row.builtin, installed: row.installed };
}

/** What the settings of notifier `name` are sealed for (AES-GCM associated data): a copied value does not open. */
function sealContext(name: string, key: string): { scope: string; key: string } {
  return { scope: `notifier:${name}`, key };
}

/**
 * Installed notifiers (docs/design.md §6): install or update, uninstall (refused while a pipeline's
 * latest config lists the notifier), list and get; the built-ins are installed at startup. Install
 * settings are sealed with the secret store's keyring and opened only for a notifier's container.
 */
@Injectable()
export class NotifierService {
  private readonly keyring: Keyring | undefined;

  constructor(
    private readonly transactions: Transactions,
    private readonly notifiers: NotifiersRepository,
    private readonly events: EventLog,
    @Inject(GOFER_CONFIG) private readonly config: GoferConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    // The same keys as the secret store's (SecretService checks at startup that they open what is stored).
    this.keyring = config.encryptionKey ? Keyring.parse(config.encryptionKey, config.previousEncryptionKeys) : undefined;
  }

  /** Installs a notifier, or replaces the image and settings of the one with this name. */
  async install(request: InstallNotifier): Promise<NotifierView> {
    const settings = request.settings ?? {};
    const problems = [...nameProblems(request.name), ...imageProblems(request.image), ...settingProblems(settings)];
    if (problems.length > 0) throw invalidArgument(problems.join('\n'));
    const entries = Object.entries(settings);
    if (entries.length > 0 && !this.keyring) {
      throw failedPrecondition(
        'notifier settings are stored sealed, and the secret store is off: start Gofer with GOFER_ENCRYPTION_KEY ' +
          '(32 bytes as base64, e.g. from `openssl rand -base64 32`), or install the notifier without --setting',
      );
    }
    const sealed = Object.fromEntries(entries.map(([key, value]) => [key, encodeSealed(this.keyring!.seal(value, sealContext(request.name, key)))]));
    const row = await this.transactions.once(async (m) => {
      const row = await this.notifiers.upsert(m, { name: request.name, image: request.image, settings: sealed, builtin: false });
      await this.events.append(m, {
        kind: 'notifier_installed', details: { notifier: row.name, image: row.image, settings: Object.keys(sealed).sort(), builtin: false },
      });
      return row;
    });
    this.logger.info({ notifier: row.name, image: row.image }, 'notifier installed');
    return view(row);
  }

  /** Uninstalls a notifier; refused while the latest config of a pipeline lists it. */
  async uninstall(name: string): Promise<void> {
    const problems = nameProblems(name);
    if (problems.length > 0) throw invalidArgument(problems.join('\n'));
    await this.transactions.once(async (m) => {
      // Locked first: an apply naming it (which share-locks it) either committed before this looks, or waits and then finds it gone.
      if (!(await this.notifiers.lock(m, name))) throw notFound(`notifier "${name}" is not installed`);
      const listing = await this.notifiers.pipelinesListing(m, name, LISTED_PIPELINES_SHOWN + 1);
      if (listing.length > 0) {
        const names = listing.slice(0, LISTED_PIPELINES_SHOWN).map((p) => `${p.namespace_id}/${p.pipeline_id}`);
        const more = listing.length > LISTED_PIPELINES_SHOWN ? ' and more' : '';
        throw failedPrecondition(
          `notifier "${name}" is listed in the notifiers of pipeline(s) ${names.join(', ')}${more}: ` +
            'remove it from their configs (gofer pipeline apply) first',
        );
      }
      await this.notifiers.delete(m, name);
      await this.events.append(m, { kind: 'notifier_uninstalled', details: { notifier: name } });
    });
    this.logger.info({ notifier: name }, 'notifier uninstalled');
  }

  async list(): Promise<NotifierView[]> {
    return (await this.notifiers.list()).map(view);
  }

  async get(name: string): Promise<NotifierView> {
    const problems = nameProblems(name);
    if (problems.length > 0) throw invalidArgument(problems.join('\n'));
    const row = await this.notifiers.get(name);
    if (!row) throw notFound(`notifier "${name}" is not installed`);
    return view(row);
  }

  /**
   * Refuses a config whose `notifiers[]` names a notifier that is not installed (INVALID_ARGUMENT, one
   * line per entry). Given the transaction that stores the config, the notifiers stay share-locked
   * until it ends, so none is uninstalled while the config that names it is being stored.
   */
  async checkInstalled(entries: readonly NotifierSubscription[], m?: EntityManager): Promise<void> {
    if (entries.length === 0) return;
    const installed = new Set(await this.notifiers.lockInstalled(entries.map((entry) => entry.notifier), m));
    const problems = entries.flatMap((entry, index) =>
      installed.has(entry.notifier) ? [] : [`notifiers[${index}].notifier: notifier "${entry.notifier}" is not installed`],
    );
    if (problems.length > 0) throw invalidArgument(problems.join('\n'));
  }

  /** The installed notifier with its sealed settings (for running it), or null. */
  find(name: string): Promise<NotifierEntity | null> {
    return this.notifiers.get(name);
  }

  /**
   * The install settings of a notifier in the clear, for its container only.
   * @throws GoferError `failed_precondition` when they cannot be opened (no key, or not the key they were sealed with).
   */
  openSettings(row: NotifierEntity): Record<string, string> {
    const entries = Object.entries(row.settings);
    if (entries.length === 0) return {};
    if (!this.keyring) throw failedPrecondition(`the settings of notifier "${row.name}" are sealed, and GOFER_ENCRYPTION_KEY is not set`);
    try {
      return Object.fromEntries(entries.map(([key, value]) => [key, this.keyring!.open(decodeSealed(value), sealContext(row.name, key))]));
    } catch (error) {
      if (!(error instanceof SecretDecryptError)) throw error;
      throw failedPrecondition(`the settings of notifier "${row.name}" cannot be decrypted: ${error.message}; install it again`);
    }
  }

  /**
   * Installs the built-in notifiers GOFER_BUILTIN_NOTIFIERS names, each with the image `imageOf` gives
   * for its app (`notifier-log` …). Idempotent and safe when replicas start together; a notifier a user
   * installed under a built-in's name is left alone.
   */
  async installBuiltins(imageOf: (app: string) => string): Promise<void> {
    for (const name of this.config.builtinNotifiers as BuiltinNotifier[]) {
      const image = imageOf(builtinNotifierApp(name));
      const changed = await this.transactions.once(async (m) => {
        const changed = await this.notifiers.installBuiltin(m, name, image);
        if (changed) await this.events.append(m, { kind: 'notifier_installed', details: { notifier: name, image, settings: [], builtin: true } });
        return changed;
      });
      if (changed) this.logger.info({ notifier: name, image }, 'built-in notifier installed');
    }
  }

  /**
   * Re-seals every notifier's settings not sealed with the current key (`gofer service rotate-key`).
   * Returns how many notifiers were re-sealed.
   */
  async reseal(): Promise<number> {
    const keyring = this.keyring;
    if (!keyring) return 0;
    return this.transactions.once(async (m) => {
      let resealed = 0;
      for (const row of await this.notifiers.lockAllWithSettings(m)) {
        const entries = Object.entries(row.settings);
        if (entries.every(([, value]) => !keyring.needsReseal(decodeSealed(value)))) continue;
        const settings = Object.fromEntries(
          entries.map(([key, value]) => [key, encodeSealed(keyring.reseal(decodeSealed(value), sealContext(row.name, key)))]),
        );
        await this.notifiers.setSettings(m, row.name, settings);
        resealed++;
      }
      return resealed;
    });
  }
}

function nameProblems(name: string | undefined): string[] {
  if (!name) return ['name: required'];
  const problem = idProblem(EXTENSION_NAME, 'name', name, { what: 'notifier name' });
  return problem ? [problem] : [];
}

function imageProblems(image: string | undefined): string[] {
  if (!image) return ['image: required (e.g. --image registry.example.com/notifier:1)'];
  if (image.length > PIPELINE_LIMITS.maxImageLength) return [`image: at most ${PIPELINE_LIMITS.maxImageLength} characters`];
  if (/[\s\u0000-\u001f]/.test(image)) return ['image: must not contain whitespace or control characters'];
  return [];
}

function settingProblems(settings: Record<string, string>): string[] {
  const problems: string[] = [];
  const entries = Object.entries(settings);
  if (entries.length > MAX_SETTINGS) problems.push(`settings: at most ${MAX_SETTINGS}, got ${entries.length}`);
  const byVariable = new Map<string, string>();
  let bytes = 0;
  for (const [key, value] of entries) {
    if (!VARIABLE_NAME.pattern.test(key)) problems.push(`settings.${key.slice(0, 64)}: not a valid setting name (${VARIABLE_NAME.howTo})`);
    else {
      // Settings reach the container upper-cased (GOFER_NOTIFIER_CONFIG_URL), so `url` and `URL` would collide.
      const same = byVariable.get(settingVariable(key));
      if (same !== undefined) problems.push(`settings.${key}: the same variable as settings.${same} (${settingVariable(key)})`);
      byVariable.set(settingVariable(key), key);
    }
    if (value.includes('\0')) problems.push(`settings.${key.slice(0, 64)}: contains a NUL byte (settings reach containers as environment variables)`);
    bytes += Buffer.byteLength(key) + Buffer.byteLength(value);
  }
  if (bytes > MAX_SETTINGS_BYTES) problems.push(`settings: ${bytes} bytes in all, the limit is ${MAX_SETTINGS_BYTES}`);
  return problems;
}
