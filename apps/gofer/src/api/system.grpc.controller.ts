import { Controller, Inject } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { GOFER_CONFIG, type GoferConfig } from '@gofer/config';
import type * as pb from '@gofer/proto';
import { GOFER_VERSION } from '../version.js';

@Controller()
export class SystemGrpcController {
  constructor(@Inject(GOFER_CONFIG) private readonly config: GoferConfig) {}

  @GrpcMethod('Gofer', 'GetSystemInfo')
  getSystemInfo(_request: pb.GetSystemInfoRequest): pb.GetSystemInfoResponse {
    return { version: GOFER_VERSION, commit: process.env.GOFER_COMMIT ?? '', scheduler: this.config.scheduler, bootstrapTokenCreated: false };
  }
}
