import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { assertNamespace, invalidArgument, mayUseNamespace, NamespaceService, ObjectService } from '@gofer/engine';
import type * as pb from '@gofer/proto';
import type { Metadata } from '@grpc/grpc-js';
import { toNamespace } from './proto-mapping.js';
import { MAX_PAGE, page } from './request.js';
import { principalOf } from './rpc.gateway.js';

@Controller()
export class NamespacesGrpcController {
  constructor(
    private readonly namespaces: NamespaceService,
    private readonly objects: ObjectService,
  ) {}

  @GrpcMethod('Gofer', 'CreateNamespace')
  async createNamespace(request: pb.CreateNamespaceRequest): Promise<pb.CreateNamespaceResponse> {
    if (!request.id) throw invalidArgument('id: required');
    return { namespace: toNamespace(await this.namespaces.create(request.id, request.name ?? '', request.description ?? '')) };
  }

  @GrpcMethod('Gofer', 'GetNamespace')
  async getNamespace(request: pb.GetNamespaceRequest, metadata: Metadata): Promise<pb.GetNamespaceResponse> {
    if (!request.id) throw invalidArgument('id: required');
    assertNamespace(principalOf(metadata), request.id);
    return { namespace: toNamespace(await this.namespaces.get(request.id)) };
  }

  @GrpcMethod('Gofer', 'ListNamespaces')
  async listNamespaces(request: pb.ListNamespacesRequest, metadata: Metadata): Promise<pb.ListNamespacesResponse> {
    const { limit, offset } = page(request, MAX_PAGE);
    const principal = principalOf(metadata);
    const visible = (await this.namespaces.list()).filter((namespace) => mayUseNamespace(principal, namespace.id));
    return { namespaces: visible.slice(offset, offset + limit).map(toNamespace) };
  }

  @GrpcMethod('Gofer', 'DeleteNamespace')
  async deleteNamespace(request: pb.DeleteNamespaceRequest): Promise<pb.DeleteNamespaceResponse> {
    if (!request.id) throw invalidArgument('id: required');
    const pipelines = await this.namespaces.delete(request.id, request.force ?? false);
    for (const pipelineId of pipelines) await this.objects.removePipelineContent(request.id, pipelineId);
    return {};
  }
}
