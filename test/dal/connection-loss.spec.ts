import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import { openDataSource, Transactions } from '@gofer/dal';
import { createTestDatabase } from '../support/database.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { waitFor } from '../support/gofer-process.js';

/**
 * A connection that drops while a transaction holds it must fail that transaction, not the process:
 * pg emits 'error' on the client, and a checked-out client has no listener unless we add one.
 */
describe('Transactions.raw when the connection drops', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let proxy: FaultProxy;
  let dataSource: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase('connloss');
    proxy = await FaultProxy.start({ port: Number(new URL(db.url).port) });
    dataSource = await openDataSource(proxy.rewrite(db.url), { poolSize: 2 });
  });
  afterAll(async () => {
    await dataSource?.destroy().catch(() => undefined);
    await proxy?.close();
    await db?.drop();
  });

  it('fails the transaction, discards the connection and keeps serving once the connection is back', async () => {
    const transactions = new Transactions(dataSource);
    const failed = transactions.raw(async (tx) => {
      await tx.queryText('SELECT 1');
      // Between statements, with no query in flight: the connection is cut under the transaction.
      proxy.cut();
      await waitFor('the connection to be cut', async () => (proxy.stats().active === 0 ? true : undefined), 5_000);
      await new Promise((resolve) => setTimeout(resolve, 200)); // let the reset reach the client
      return tx.queryText('SELECT 2');
    });
    await expect(failed).rejects.toThrow();
    expect(await transactions.raw((tx) => tx.queryText<{ n: number }>('SELECT 3 AS n'))).toEqual([{ n: 3 }]);
  });
});
