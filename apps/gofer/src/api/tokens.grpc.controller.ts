import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { invalidArgument, TokenService } from '@gofer/engine';
import { TokenKind } from '@gofer/proto';
import type * as pb from '@gofer/proto';
import type { Metadata } from '@grpc/grpc-js';
import { toToken } from './proto-mapping.js';
import { principalOf } from './rpc.gateway.js';

const TOKEN_ID = /^tok_[0-9a-f]{16}$/;

function tokenId(id: string | undefined): string {
  if (!id) throw invalidArgument('id: required');
  if (!TOKEN_ID.test(id)) throw invalidArgument(`id: "${id.slice(0, 64)}" is not a token id (tok_ followed by 16 hex digits)`);
  return id;
}

@Controller()
export class TokensGrpcController {
  constructor(private readonly tokens: TokenService) {}

  @GrpcMethod('Gofer', 'BootstrapToken')
  async bootstrapToken(_request: pb.BootstrapTokenRequest): Promise<pb.BootstrapTokenResponse> {
    const { token, secret } = await this.tokens.bootstrap();
    return { token: toToken(token), secret };
  }

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

  @GrpcMethod('Gofer', 'ListTokens')
  async listTokens(_request: pb.ListTokensRequest): Promise<pb.ListTokensResponse> {
    return { tokens: (await this.tokens.list()).map(toToken) };
  }

  @GrpcMethod('Gofer', 'GetToken')
  async getToken(request: pb.GetTokenRequest): Promise<pb.GetTokenResponse> {
    return { token: toToken(await this.tokens.get(tokenId(request.id))) };
  }

  @GrpcMethod('Gofer', 'WhoAmI')
  async whoAmI(_request: pb.WhoAmIRequest, metadata: Metadata): Promise<pb.WhoAmIResponse> {
    return { token: toToken(await this.tokens.get(principalOf(metadata).tokenId)) };
  }

  @GrpcMethod('Gofer', 'DeleteToken')
  async deleteToken(request: pb.DeleteTokenRequest): Promise<pb.DeleteTokenResponse> {
    await this.tokens.delete(tokenId(request.id));
    return {};
  }

  @GrpcMethod('Gofer', 'EnableToken')
  async enableToken(request: pb.EnableTokenRequest): Promise<pb.EnableTokenResponse> {
    await this.tokens.setDisabled(tokenId(request.id), false);
    return {};
  }

  @GrpcMethod('Gofer', 'DisableToken')
  async disableToken(request: pb.DisableTokenRequest): Promise<pb.DisableTokenResponse> {
    await this.tokens.setDisabled(tokenId(request.id), true);
    return {};
  }
}
