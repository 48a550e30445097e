import { loadConfig } from '@gofer/config';
import { ClusterRepository, EventsRepository, NotifiersRepository, openDataSource, PipelinesRepository, SecretsRepository, Transactions } from '@gofer/dal';
import { EventLog } from '@gofer/events';
import { NotifierService } from '@gofer/notifiers';
import { EncryptionKeyMismatchError, SecretService } from '@gofer/secrets';
import { EncryptionKeyError } from '@gofer/secrets';
import { StartupError } from './infrastructure.js';
import { createLogger } from './logger.js';

/**
 * `gofer service rotate-key`: re-seals every secret with GOFER_ENCRYPTION_KEY (the new key) while the
 * service keeps running; GOFER_PREVIOUS_ENCRYPTION_KEYS must list the key(s) they are sealed with now.
 * Returns how many secrets were re-sealed.
 */
export async function rotateKey(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const config = loadConfig(env);
  if (!config.encryptionKey) {
    throw new StartupError('set GOFER_ENCRYPTION_KEY to the new key and GOFER_PREVIOUS_ENCRYPTION_KEYS to the current one(s)');
  }
  const logger = createLogger(config.logLevel);
  const db = await openDataSource(config.databaseUrl, { statementTimeoutMs: config.databaseStatementTimeoutMs }).catch((error: Error) => {
    throw new StartupError(error.message);
  });
  try {
    const secrets = new SecretService(
      new Transactions(db, logger), new SecretsRepository(db), new PipelinesRepository(db), new ClusterRepository(db), config, logger,
      new EventLog(new EventsRepository(db), config),
    );
    await secrets.verifyKey(); // every stored secret must open with one of the configured keys first
    const resealed = await secrets.rotate();
    // Notifiers' install settings are sealed with the same keys.
    const events = new EventLog(new EventsRepository(db), config);
    await new NotifierService(new Transactions(db, logger), new NotifiersRepository(db), events, config, logger).reseal();
    return resealed;
  } catch (error) {
    if (error instanceof EncryptionKeyMismatchError || error instanceof EncryptionKeyError) throw new StartupError(error.message);
    throw error;
  } finally {
    await db.destroy();
  }
}
