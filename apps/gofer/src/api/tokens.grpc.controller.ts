import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { Authorize, TokenService } from '@gofer/auth';
import { invalidArgument } from '@gofer/errors';
import { idProblem, TOKEN_ID } from '@gofer/pipeline';
import { TokenKind } from '@gofer/proto';
import type * as pb from '@gofer/proto';
import type { Metadata } from '@grpc/grpc-js';
import { toToken } from './proto-mapping.js';
import { principalOf } from './authorization.guard.js';

function tokenId(id: string | undefined): string {
  if (!id) throw invalidArgument('id: required');
  const problem = idProblem(TOKEN_ID, 'id', id, { what: TOKEN_ID.name });
  if (problem) throw invalidArgument(problem);
  return id;
}

@Controller()
export class TokensGrpcController {
  constructor(private readonly tokens: TokenService) {}

  @Authorize('public')
  @GrpcMethod('Gofer', 'BootstrapToken')
  async bootstrapToken(_request: pb.BootstrapTokenRequest): Promise<pb.BootstrapTokenResponse> {
    const { token, secret } = await this.tokens.bootstrap();
    return { token: toToken(token), secret };
  }

  @Authorize('management')
  @GrpcMethod('Gofer', 'CreateToken')
  async createToken(request: pb.CreateTokenRequest): Promise<pb.CreateTokenResponse> {
    const kinds: Record<string, 'management' | 'client' | undefined> = {
      [TokenKind.TOKEN_KIND_MANAGEMENT]: 'management',
      [TokenKind.TOKEN_KIND_CLIENT]: 'client',
    };
    const kind = kinds[request.kind];
    if (!kind) throw invalidArgument('kind: must be TOKEN_KIND_MANAGEMENT or TOKEN_KIND_CLIENT (run tokens are issued by Gofer to tasks only)');
    const { token, secret } = await this.tokens.create({
      kind, namespaces: request.namespaces ?? [], metadata: request.metadata ?? {}, expiresInSeconds: request.expiresInSeconds,
    });
    return { token: toToken(token), secret };
  }

  @Authorize('management')
  @GrpcMethod('Gofer', 'ListTokens')
  async listTokens(_request: pb.ListTokensRequest): Promise<pb.ListTokensResponse> {
    return { tokens: (await this.tokens.list()).map(toToken) };
  }

  @Authorize('management')
  @GrpcMethod('Gofer', 'GetToken')
  async getToken(request: pb.GetTokenRequest): Promise<pb.GetTokenResponse> {
    return { token: toToken(await this.tokens.get(tokenId(request.id))) };
  }

  @Authorize('authenticated')
  @GrpcMethod('Gofer', 'WhoAmI')
  async whoAmI(_request: pb.WhoAmIRequest, metadata: Metadata): Promise<pb.WhoAmIResponse> {
    return { token: toToken(await this.tokens.get(principalOf(metadata).tokenId)) };
  }

  @Authorize('management')
  @GrpcMethod('Gofer', 'DeleteToken')
  async deleteToken(request: pb.DeleteTokenRequest): Promise<pb.DeleteTokenResponse> {
    await this.tokens.delete(tokenId(request.id));
    return {};
  }

  @Authorize('management')
  @GrpcMethod('Gofer', 'EnableToken')
  async enableToken(request: pb.EnableTokenRequest): Promise<pb.EnableTokenResponse> {
    await this.tokens.setDisabled(tokenId(request.id), false);
    return {};
  }

  @Authorize('management')
  @GrpcMethod('Gofer', 'DisableToken')
  async disableToken(request: pb.DisableTokenRequest): Promise<pb.DisableTokenResponse> {
    await this.tokens.setDisabled(tokenId(request.id), true);
    return {};
  }
}
