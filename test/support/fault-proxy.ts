import { connect, createServer, type Server, type Socket } from 'node:net';

/** What the proxy does with traffic, see {@link FaultProxy}. */
export type FaultMode = 'pass' | 'stall' | 'drop';

/** Connection counts, for asserting that a process reconnected and for spotting leaks. */
export interface FaultProxyStats {
  /** Client connections open right now (accepted and not yet closed). */
  active: number;
  /** Client connections accepted and kept since the proxy started. */
  accepted: number;
  /** Client connections refused while dropping. */
  refused: number;
  /** Connections destroyed on purpose by {@link FaultProxy.cut} or {@link FaultProxy.drop}. */
  cut: number;
}

/** One client connection and, once it is made, its connection to the service. */
interface Pair {
  client: Socket;
  upstream: Socket | undefined;
}

/**
 * A TCP proxy in the test harness between a Gofer process and a service (Postgres, Redis) that
 * misbehaves on command, so the chaos tests can cut one process off from one service without touching
 * the service itself (which the rest of the cluster keeps using). It listens on 127.0.0.1 on a free port.
 *
 * - `pass`: forwards bytes both ways.
 * - {@link stall}: accepts connections and holds them; no byte moves in either direction (reading
 *   stops, so the kernel buffers fill as they would behind a black-holed route). {@link restore} lets
 *   the held bytes through, as a healed partition would.
 * - {@link drop}: destroys every connection and refuses new ones (accepted and reset at once: the port
 *   stays bound, so nothing else on the machine can take it in the meantime).
 * - {@link cut}: destroys every connection, keeps accepting new ones.
 */
export class FaultProxy {
  private mode: FaultMode = 'pass';
  private readonly pairs = new Set<Pair>();
  private readonly counts = { accepted: 0, refused: 0, cut: 0 };

  private constructor(
    private readonly server: Server,
    /** The port the proxy listens on (127.0.0.1). */
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {
    server.on('connection', (client) => this.accept(client));
  }

  /** Starts a proxy in front of `target` (host defaults to 127.0.0.1), in `pass` mode. */
  static async start(target: { host?: string; port: number }): Promise<FaultProxy> {
    const server = createServer({ noDelay: true });
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        if (typeof address === 'object' && address) resolve(address.port);
        else reject(new Error('the fault proxy has no port'));
      });
    });
    return new FaultProxy(server, port, { host: target.host ?? '127.0.0.1', port: target.port });
  }

  /** `url` with its host and port replaced by the proxy's, e.g. a database URL for one process. */
  rewrite(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = '127.0.0.1';
    parsed.port = String(this.port);
    return parsed.toString();
  }

  get current(): FaultMode {
    return this.mode;
  }

  stats(): FaultProxyStats {
    return { active: this.pairs.size, ...this.counts };
  }

  /** Holds every connection, old and new: nothing is forwarded until {@link restore}. */
  stall(): void {
    this.mode = 'stall';
    for (const pair of this.pairs) {
      pair.client.pause();
      pair.upstream?.pause();
    }
  }

  /** Destroys every connection and refuses new ones until {@link restore}. */
  drop(): void {
    this.mode = 'drop';
    this.destroyAll();
  }

  /** Destroys every connection; new ones are handled as the current mode says. */
  cut(): void {
    this.destroyAll();
  }

  /** Back to forwarding; held connections carry on (and get their upstream connection if they had none). */
  restore(): void {
    this.mode = 'pass';
    for (const pair of this.pairs) {
      if (!pair.upstream) this.connectUpstream(pair);
      else {
        pair.client.resume();
        pair.upstream.resume();
      }
    }
  }

  /** Destroys every connection and stops listening. */
  async close(): Promise<void> {
    this.mode = 'drop';
    this.destroyAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.mode === 'drop') {
      this.counts.refused += 1;
      client.resetAndDestroy();
      return;
    }
    this.counts.accepted += 1;
    const pair: Pair = { client, upstream: undefined };
    this.pairs.add(pair);
    client.on('error', () => undefined);
    client.once('close', () => {
      this.pairs.delete(pair);
      pair.upstream?.destroy();
    });
    if (this.mode === 'stall') client.pause();
    else this.connectUpstream(pair);
  }

  private connectUpstream(pair: Pair): void {
    const upstream = connect({ host: this.target.host, port: this.target.port, noDelay: true });
    pair.upstream = upstream;
    upstream.on('error', () => undefined);
    upstream.once('close', () => pair.client.destroy());
    this.forward(pair.client, upstream);
    this.forward(upstream, pair.client);
    // Bytes the client sent while held were kept in its socket (paused): they flow now.
    if (this.mode !== 'stall') pair.client.resume();
  }

  /** Copies `from` to `to` by hand (not `pipe`, which would resume a socket that a stall paused). */
  private forward(from: Socket, to: Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => {
      if (this.mode !== 'stall') from.resume();
    });
    from.once('end', () => to.end());
  }

  private destroyAll(): void {
    for (const pair of this.pairs) {
      this.counts.cut += 1;
      pair.client.resetAndDestroy();
      pair.upstream?.resetAndDestroy();
    }
    this.pairs.clear();
  }
}
