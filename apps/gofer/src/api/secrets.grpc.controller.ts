import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { Authorize, type Principal } from '@gofer/auth';
import { invalidArgument, permissionDenied } from '@gofer/errors';
import { SecretService } from '@gofer/secrets';
import type * as pb from '@gofer/proto';
import type { Metadata } from '@grpc/grpc-js';
import { toSecret } from './proto-mapping.js';
import { pipelineRef } from './request.js';
import { principalOf } from './authorization.guard.js';

/** Tokens injected into tasks may use secrets through interpolation, never read them back. */
function assertMayReadValues(principal: Principal): void {
  if (principal.run) throw permissionDenied(`token ${principal.tokenId} belongs to a run's tasks and may not read secret values`);
}

function secretKey(key: string | undefined): string {
  if (!key) throw invalidArgument('key: required');
  return key;
}

@Controller()
export class SecretsGrpcController {
  constructor(private readonly secrets: SecretService) {}

  @Authorize('namespace')
  @GrpcMethod('Gofer', 'PutPipelineSecret')
  async putPipelineSecret(request: pb.PutPipelineSecretRequest): Promise<pb.PutPipelineSecretResponse> {
    const scope = pipelineRef(request, request.pipelineId);
    return { secret: toSecret(await this.secrets.put(scope, secretKey(request.key), request.value ?? '')) };
  }

  @Authorize('namespace')
  @GrpcMethod('Gofer', 'GetPipelineSecret')
  async getPipelineSecret(request: pb.GetPipelineSecretRequest, metadata: Metadata): Promise<pb.GetPipelineSecretResponse> {
    const scope = pipelineRef(request, request.pipelineId);
    if (request.includeValue) assertMayReadValues(principalOf(metadata));
    const { secret, value } = await this.secrets.get(scope, secretKey(request.key), request.includeValue ?? false);
    return { secret: toSecret(secret, value) };
  }

  @Authorize('namespace')
  @GrpcMethod('Gofer', 'ListPipelineSecrets')
  async listPipelineSecrets(request: pb.ListPipelineSecretsRequest): Promise<pb.ListPipelineSecretsResponse> {
    return { secrets: (await this.secrets.list(pipelineRef(request, request.pipelineId))).map((s) => toSecret(s)) };
  }

  @Authorize('namespace')
  @GrpcMethod('Gofer', 'DeletePipelineSecret')
  async deletePipelineSecret(request: pb.DeletePipelineSecretRequest): Promise<pb.DeletePipelineSecretResponse> {
    await this.secrets.delete(pipelineRef(request, request.pipelineId), secretKey(request.key));
    return {};
  }

  @Authorize('management')
  @GrpcMethod('Gofer', 'PutGlobalSecret')
  async putGlobalSecret(request: pb.PutGlobalSecretRequest): Promise<pb.PutGlobalSecretResponse> {
    return { secret: toSecret(await this.secrets.put('global', secretKey(request.key), request.value ?? '', request.namespaces ?? [])) };
  }

  @Authorize('management')
  @GrpcMethod('Gofer', 'GetGlobalSecret')
  async getGlobalSecret(request: pb.GetGlobalSecretRequest): Promise<pb.GetGlobalSecretResponse> {
    const { secret, value } = await this.secrets.get('global', secretKey(request.key), request.includeValue ?? false);
    return { secret: toSecret(secret, value) };
  }

  @Authorize('management')
  @GrpcMethod('Gofer', 'ListGlobalSecrets')
  async listGlobalSecrets(_request: pb.ListGlobalSecretsRequest): Promise<pb.ListGlobalSecretsResponse> {
    return { secrets: (await this.secrets.list('global')).map((s) => toSecret(s)) };
  }

  @Authorize('management')
  @GrpcMethod('Gofer', 'DeleteGlobalSecret')
  async deleteGlobalSecret(request: pb.DeleteGlobalSecretRequest): Promise<pb.DeleteGlobalSecretResponse> {
    await this.secrets.delete('global', secretKey(request.key));
    return {};
  }
}
