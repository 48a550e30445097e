import { randomBytes } from 'node:crypto';
import pg from 'pg';

const SERVER = process.env.GOFER_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432';

/**
 * A fresh, uniquely named database for one test file; `drop()` removes it. `server` is the Postgres
 * server's URL without a database (default: the machine's shared one; the chaos tests bring their own).
 */
export async function createTestDatabase(label: string, server = SERVER): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `gofer_test_${label.replace(/[^a-z0-9_]/g, '_')}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: `${server}/postgres` });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return {
    url: `${server}/${name}`,
    drop: async () => {
      const client = new pg.Client({ connectionString: `${server}/postgres` });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}
