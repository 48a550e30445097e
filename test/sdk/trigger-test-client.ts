// A real gRPC client of gofer.v1.Trigger (and of the health service) built from the repository's
// proto/gofer/v1/trigger.proto, as Gofer dials a trigger, for the SDK's socket-level tests.
import { join } from 'node:path';
import { credentials, loadPackageDefinition, makeClientConstructor, Metadata, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { service as healthService } from 'grpc-health-check';

const PROTO = join(import.meta.dirname, '../../proto/gofer/v1/trigger.proto');
const OPTIONS = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true };

type Callback = (error: ServiceError | null, response?: unknown) => void;
type Unary = (request: unknown, metadata: Metadata, options: object, callback: Callback) => void;

/** Calls a trigger at 127.0.0.1:`port`; `key` undefined sends no authorization metadata. */
export class TriggerTestClient {
  private readonly client: Client;
  private readonly health: Client;

  constructor(port: number) {
    const pkg = loadPackageDefinition(loadSync(PROTO, OPTIONS)) as unknown as {
      gofer: { v1: { Trigger: new (address: string, creds: unknown, options: object) => Client } };
    };
    const address = `127.0.0.1:${port}`;
    this.client = new pkg.gofer.v1.Trigger(address, credentials.createInsecure(), { 'grpc.max_send_message_length': -1 });
    const Health = makeClientConstructor(healthService as never, 'grpc.health.v1.Health');
    this.health = new Health(address, credentials.createInsecure());
  }

  /** Calls `method` (camelCase, e.g. `subscribe`) with `authorization: Bearer <key>` unless `key` is undefined. */
  call<T = Record<string, unknown>>(method: string, request: unknown, key: string | undefined): Promise<T> {
    const metadata = new Metadata();
    if (key !== undefined) metadata.set('authorization', `Bearer ${key}`);
    return unary<T>(this.client, method, request, metadata);
  }

  /** `grpc.health.v1.Health/Check` without any key. */
  check(service: string): Promise<{ status: string }> {
    return unary(this.health, 'check', { service }, new Metadata());
  }

  /** Opens `grpc.health.v1.Health/Watch`, a stream that stays open until cancelled or the server goes. */
  watch(service: string): { statuses: string[]; cancel(): void } {
    const statuses: string[] = [];
    const stream = (this.health as unknown as { watch(request: object): NodeJS.EventEmitter & { cancel(): void } }).watch({ service });
    stream.on('data', (message: { status: string }) => statuses.push(message.status));
    stream.on('error', () => {});
    return { statuses, cancel: () => stream.cancel() };
  }

  close(): void {
    this.client.close();
    this.health.close();
  }
}

function unary<T>(client: Client, method: string, request: unknown, metadata: Metadata): Promise<T> {
  return new Promise((resolve, reject) => {
    (client as unknown as Record<string, Unary>)[method]!.call(client, request, metadata, { deadline: Date.now() + 30_000 }, (error, response) =>
      error ? reject(error) : resolve(response as T),
    );
  });
}

/** The rejection of `promise`, which must reject. */
export async function rejection(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error('expected the call to fail');
}
