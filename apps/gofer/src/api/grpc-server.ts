import type { Server } from '@grpc/grpc-js';
import { ServerGrpc } from '@nestjs/microservices';

/**
 * Nest's gRPC transport with a bounded graceful stop. Nest's own `close` either cuts every call
 * (forceShutdown) or waits for all of them with no limit (tryShutdown), and a follow never ends by
 * itself; Gofer ends its follows first (Shutdown), then gives the calls left a deadline here.
 */
export class DrainingGrpcServer extends ServerGrpc {
  /**
   * Stops taking connections and calls (clients go to another replica), lets calls in flight finish
   * for up to `timeoutMs`, then cuts what is left. Resolves true when everything finished in time.
   */
  drain(timeoutMs: number): Promise<boolean> {
    const server = this.grpcClient as Server | undefined;
    if (!server) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve(false);
      }, timeoutMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}
