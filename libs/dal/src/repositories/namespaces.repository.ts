import type { EntityManager } from 'typeorm';

/** Inserts a namespace unless one has its id; true when it inserted. */
export async function insertNamespaceIfAbsent(
  m: EntityManager,
  namespace: { id: string; name: string; description: string; created: Date },
): Promise<boolean> {
  const inserted = (await m.query(
    `INSERT INTO namespaces (id, name, description, created, updated) VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT DO NOTHING RETURNING id`,
    [namespace.id, namespace.name, namespace.description, namespace.created],
  )) as unknown[];
  return inserted.length > 0;
}
