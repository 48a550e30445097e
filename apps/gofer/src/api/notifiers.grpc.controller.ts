import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { Authorize } from '@gofer/auth';
import { NotifierService } from '@gofer/notifiers';
import type * as pb from '@gofer/proto';
import { toInstalledNotifier } from './proto-mapping.js';

/** Installed notifiers (docs/design.md §6): management tokens change them, any token reads them. */
@Controller()
export class NotifiersGrpcController {
  constructor(private readonly notifiers: NotifierService) {}

  @Authorize('management')
  @GrpcMethod('Gofer', 'InstallNotifier')
  async installNotifier(request: pb.InstallNotifierRequest): Promise<pb.InstallNotifierResponse> {
    const notifier = await this.notifiers.install({ name: request.name, image: request.image, settings: request.settings ?? {} });
    return { notifier: toInstalledNotifier(notifier) };
  }

  @Authorize('management')
  @GrpcMethod('Gofer', 'UninstallNotifier')
  async uninstallNotifier(request: pb.UninstallNotifierRequest): Promise<pb.UninstallNotifierResponse> {
    await this.notifiers.uninstall(request.name);
    return {};
  }

  @Authorize('authenticated')
  @GrpcMethod('Gofer', 'ListNotifiers')
  async listNotifiers(_request: pb.ListNotifiersRequest): Promise<pb.ListNotifiersResponse> {
    return { notifiers: (await this.notifiers.list()).map(toInstalledNotifier) };
  }

  @Authorize('authenticated')
  @GrpcMethod('Gofer', 'GetNotifier')
  async getNotifier(request: pb.GetNotifierRequest): Promise<pb.GetNotifierResponse> {
    return { notifier: toInstalledNotifier(await this.notifiers.get(request.name)) };
  }
}
