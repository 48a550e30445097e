import type { EntityManager } from 'typeorm';

/** Inserts a sealed secret, or replaces the one with its scope and key. */
export async function upsertSecret(
  m: EntityManager,
  secret: {
    namespaceId: string; pipelineId: string; key: string; keyId: string; nonce: Buffer; ciphertext: Buffer;
    namespaces: readonly string[]; now: Date;
  },
): Promise<void> {
  await m.query(
    `INSERT INTO secrets (namespace_id, pipeline_id, key, key_id, nonce, ciphertext, namespaces, created, updated)
         VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $8)
         ON CONFLICT (namespace_id, pipeline_id, key) DO UPDATE
           SET key_id = excluded.key_id, nonce = excluded.nonce, ciphertext = excluded.ciphertext,
               namespaces = excluded.namespaces, updated = excluded.updated`,
    [secret.namespaceId, secret.pipelineId, secret.key, secret.keyId, secret.nonce, secret.ciphertext, JSON.stringify(secret.namespaces), secret.now],
  );
}
