import { Controller, Inject } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { Authorize } from '@gofer/auth';
import { GOFER_CONFIG, type GoferConfig } from '@gofer/config';
import { ClusterRepository } from '@gofer/dal';
import type * as pb from '@gofer/proto';
import { GOFER_VERSION } from '../version.js';

@Controller()
export class SystemGrpcController {
  constructor(
    @Inject(GOFER_CONFIG) private readonly config: GoferConfig,
    private readonly cluster: ClusterRepository,
  ) {}

  /**
   * Public: a client checks it reaches Gofer and which version answers,
   * and a new cluster's operator whether it still needs `gofer service token bootstrap`, before holding
   * a token. Nothing here is secret; BootstrapToken, public too, already tells whether a token was issued.
   */
  @Authorize('public')
  @GrpcMethod('Gofer', 'GetSystemInfo')
  async getSystemInfo(_request: pb.GetSystemInfoRequest): Promise<pb.GetSystemInfoResponse> {
    const cluster = await this.cluster.get();
    return {
      version: GOFER_VERSION, commit: process.env.GOFER_COMMIT ?? '', scheduler: this.config.scheduler,
      bootstrapTokenCreated: cluster.bootstrapped !== null,
    };
  }
}
