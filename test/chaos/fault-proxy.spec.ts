import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FaultProxy } from '../support/fault-proxy.js';
import { waitFor } from '../support/gofer-process.js';

/** A client of the proxy that collects what comes back and how its connection ended. */
class Client {
  received = '';
  closed = false;
  failed: string | undefined;
  readonly connected: Promise<void>;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => (this.received += chunk.toString()));
    socket.on('error', (error: NodeJS.ErrnoException) => (this.failed = error.code ?? error.message));
    socket.on('close', () => (this.closed = true));
    this.connected = new Promise((resolve) => socket.once('connect', () => resolve()));
  }

  static async open(port: number): Promise<Client> {
    const client = new Client(connect({ host: '127.0.0.1', port }));
    await client.connected;
    return client;
  }

  async echoes(text: string): Promise<void> {
    const before = this.received.length;
    this.socket.write(text);
    await waitFor(`the echo of ${text}`, async () => (this.received.slice(before).includes(text) ? true : undefined), 5_000);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('FaultProxy', () => {
  let echo: Server;
  let echoPort: number;
  let upstreamConnections: number;
  const upstreamSockets = new Set<Socket>();
  let proxy: FaultProxy;
  const clients: Client[] = [];

  beforeEach(async () => {
    upstreamConnections = 0;
    echo = createServer((socket) => {
      upstreamConnections += 1;
      upstreamSockets.add(socket);
      socket.once('close', () => upstreamSockets.delete(socket));
      socket.on('error', () => undefined);
      socket.pipe(socket);
    });
    echoPort = await new Promise<number>((resolve) => echo.listen(0, '127.0.0.1', () => resolve((echo.address() as { port: number }).port)));
    proxy = await FaultProxy.start({ port: echoPort });
  });

  afterEach(async () => {
    clients.splice(0).forEach((c) => c.socket.destroy());
    await proxy.close();
    upstreamSockets.forEach((s) => s.destroy());
    await new Promise((r) => echo.close(r));
  });

  async function open(): Promise<Client> {
    const client = await Client.open(proxy.port);
    clients.push(client);
    return client;
  }

  it('passes traffic both ways and counts connections', async () => {
    const a = await open();
    const b = await open();
    await a.echoes('hello');
    await b.echoes('world');
    expect(proxy.stats()).toEqual({ active: 2, accepted: 2, refused: 0, cut: 0 });
    a.socket.end();
    await waitFor('the closed connection to be forgotten', async () => (proxy.stats().active === 1 ? true : undefined), 5_000);
    expect(proxy.rewrite('postgres://postgres@127.0.0.1:5432/db')).toBe(`postgres://postgres@127.0.0.1:${proxy.port}/db`);
  });

  it('stall holds old and new connections without forwarding, restore lets the held bytes through', async () => {
    const old = await open();
    await old.echoes('before');
    proxy.stall();
    old.socket.write('held-old');
    const fresh = await open();
    fresh.socket.write('held-new');
    // Nothing moves, nothing closes, and the new connection reached no upstream (bounded look, no threshold asserted on time).
    await sleep(300);
    expect(old.received).toBe('before');
    expect(fresh.received).toBe('');
    expect(old.closed || fresh.closed).toBe(false);
    expect(upstreamConnections).toBe(1);
    expect(proxy.stats()).toMatchObject({ active: 2, accepted: 2 });

    proxy.restore();
    await waitFor('held bytes to arrive', async () => (old.received === 'beforeheld-old' && fresh.received === 'held-new' ? true : undefined), 5_000);
    await old.echoes('after');
    expect(upstreamConnections).toBe(2);
  });

  it('drop destroys existing connections and refuses new ones until restore', async () => {
    const old = await open();
    await old.echoes('x');
    proxy.drop();
    await waitFor('the old connection to close', async () => (old.closed ? true : undefined), 5_000);
    const refused = new Client(connect({ host: '127.0.0.1', port: proxy.port }));
    clients.push(refused);
    await waitFor('the new connection to be refused', async () => (refused.closed ? true : undefined), 5_000);
    expect(refused.received).toBe('');
    expect(proxy.stats()).toMatchObject({ active: 0, accepted: 1, refused: 1, cut: 1 });

    proxy.restore();
    await (await open()).echoes('back');
    expect(proxy.stats()).toMatchObject({ active: 1, accepted: 2, refused: 1 });
  });

  it('cut destroys existing connections and keeps accepting', async () => {
    const old = await open();
    await old.echoes('x');
    proxy.cut();
    await waitFor('the old connection to close', async () => (old.closed ? true : undefined), 5_000);
    await waitFor('the upstream side to close', async () => (await new Promise<number>((r) => echo.getConnections((_, n) => r(n)))) === 0 || undefined, 5_000);
    await (await open()).echoes('new');
    expect(proxy.stats()).toMatchObject({ active: 1, accepted: 2, refused: 0, cut: 1 });
  });

  it('close destroys every connection and stops listening', async () => {
    const old = await open();
    await old.echoes('x');
    await proxy.close();
    await waitFor('the old connection to close', async () => (old.closed ? true : undefined), 5_000);
    const late = new Client(connect({ host: '127.0.0.1', port: proxy.port }));
    clients.push(late);
    await waitFor('the connection to fail', async () => (late.failed ? true : undefined), 5_000);
    expect(late.failed).toBe('ECONNREFUSED');
    proxy = await FaultProxy.start({ port: echoPort }); // afterEach closes one
  });
});
