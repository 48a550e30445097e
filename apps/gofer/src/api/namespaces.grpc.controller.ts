import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { assertNamespace, Authorize, mayUseNamespace } from '@gofer/auth';
import { NamespaceService } from '@gofer/catalog';
import { invalidArgument } from '@gofer/errors';
import { UseCases } from '@gofer/engine';
import { idProblem, NAMESPACE_ID } from '@gofer/pipeline';
import type * as pb from '@gofer/proto';
import type { Metadata } from '@grpc/grpc-js';
import { toNamespace } from './proto-mapping.js';
import { MAX_PAGE, page } from './request.js';
import { principalOf } from './authorization.guard.js';

/** A request's namespace `id`, required and following the namespace id rule. */
function namespaceId(id: string | undefined): string {
  if (!id) throw invalidArgument('id: required');
  const problem = idProblem(NAMESPACE_ID, 'id', id, { what: NAMESPACE_ID.name });
  if (problem) throw invalidArgument(problem);
  return id;
}

@Controller()
export class NamespacesGrpcController {
  constructor(
    private readonly namespaces: NamespaceService,
    private readonly useCases: UseCases,
  ) {}

  @Authorize('management')
  @GrpcMethod('Gofer', 'CreateNamespace')
  async createNamespace(request: pb.CreateNamespaceRequest): Promise<pb.CreateNamespaceResponse> {
    if (!request.id) throw invalidArgument('id: required');
    return { namespace: toNamespace(await this.namespaces.create(request.id, request.name ?? '', request.description ?? '')) };
  }

  @Authorize('authenticated') // checked against the token below: the namespace is the request's `id`
  @GrpcMethod('Gofer', 'GetNamespace')
  async getNamespace(request: pb.GetNamespaceRequest, metadata: Metadata): Promise<pb.GetNamespaceResponse> {
    if (!request.id) throw invalidArgument('id: required');
    // As for calls in a namespace: a client token learns nothing about ids it may not use.
    assertNamespace(principalOf(metadata), request.id);
    return { namespace: toNamespace(await this.namespaces.get(namespaceId(request.id))) };
  }

  @Authorize('authenticated') // filtered to what the token may use
  @GrpcMethod('Gofer', 'ListNamespaces')
  async listNamespaces(request: pb.ListNamespacesRequest, metadata: Metadata): Promise<pb.ListNamespacesResponse> {
    const { limit, offset } = page(request, MAX_PAGE);
    const principal = principalOf(metadata);
    const visible = (await this.namespaces.list()).filter((namespace) => mayUseNamespace(principal, namespace.id));
    return { namespaces: visible.slice(offset, offset + limit).map(toNamespace) };
  }

  @Authorize('management')
  @GrpcMethod('Gofer', 'DeleteNamespace')
  async deleteNamespace(request: pb.DeleteNamespaceRequest): Promise<pb.DeleteNamespaceResponse> {
    const id = namespaceId(request.id);
    await this.useCases.deleteNamespace(id, request.force ?? false);
    return {};
  }
}
