import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { Metadata } from '@grpc/grpc-js';
import { Authorize, mayUseNamespace } from '@gofer/auth';
import { PipelinesRepository } from '@gofer/dal';
import { UseCases } from '@gofer/engine';
import type * as pb from '@gofer/proto';
import { TriggerEventOutcome } from '@gofer/proto';
import { TriggerService } from '@gofer/triggers';
import { bearer, principalOf } from './authorization.guard.js';
import { toInstalledTrigger } from './proto-mapping.js';

const OUTCOMES = {
  started: TriggerEventOutcome.TRIGGER_EVENT_OUTCOME_STARTED,
  duplicate: TriggerEventOutcome.TRIGGER_EVENT_OUTCOME_DUPLICATE,
  pipeline_disabled: TriggerEventOutcome.TRIGGER_EVENT_OUTCOME_PIPELINE_DISABLED,
} as const;

/** Installed triggers (docs/triggers.md) and the events they post. */
@Controller()
export class TriggersGrpcController {
  constructor(
    private readonly triggers: TriggerService,
    private readonly useCases: UseCases,
    private readonly pipelines: PipelinesRepository,
  ) {}

  @Authorize('management')
  @GrpcMethod('Gofer', 'InstallTrigger')
  async installTrigger(request: pb.InstallTriggerRequest): Promise<pb.InstallTriggerResponse> {
    const trigger = await this.triggers.install({ name: request.name ?? '', image: request.image ?? '', settings: request.settings ?? {} });
    return { trigger: toInstalledTrigger(trigger) };
  }

  @Authorize('management')
  @GrpcMethod('Gofer', 'UninstallTrigger')
  async uninstallTrigger(request: pb.UninstallTriggerRequest): Promise<pb.UninstallTriggerResponse> {
    await this.triggers.uninstall(request.name ?? '');
    return {};
  }

  @Authorize('authenticated')
  @GrpcMethod('Gofer', 'ListTriggers')
  async listTriggers(): Promise<pb.ListTriggersResponse> {
    return { triggers: (await this.triggers.list()).map((t) => toInstalledTrigger(t)) };
  }

  /** Subscriptions are shown only for namespaces the token may use. */
  @Authorize('authenticated')
  @GrpcMethod('Gofer', 'GetTrigger')
  async getTrigger(request: pb.GetTriggerRequest, metadata: Metadata): Promise<pb.GetTriggerResponse> {
    const principal = principalOf(metadata);
    const trigger = await this.triggers.get(request.name ?? '');
    const subscriptions = (await this.triggers.subscriptionsOf(trigger.name)).filter((s) => mayUseNamespace(principal, s.namespaceId));
    const disabled = new Set<string>();
    for (const s of subscriptions) {
      const pipeline = await this.pipelines.find(s.namespaceId, s.pipelineId);
      if (pipeline?.state !== 'enabled') disabled.add(`${s.namespaceId}/${s.pipelineId}`);
    }
    return { trigger: toInstalledTrigger(trigger, subscriptions, (s) => !disabled.has(`${s.namespaceId}/${s.pipelineId}`)) };
  }

  /** Authenticated by the trigger's key (`authorization: Bearer <key>`), checked by the use case. */
  @Authorize('trigger-key')
  @GrpcMethod('Gofer', 'PostTriggerEvent')
  async postTriggerEvent(request: pb.PostTriggerEventRequest, metadata: Metadata): Promise<pb.PostTriggerEventResponse> {
    // A call without a usable key still reaches the use case, which records the refusal.
    let key = '';
    try {
      key = bearer(metadata);
    } catch {}
    const result = await this.useCases.postTriggerEvent(key, {
      trigger: request.trigger ?? '',
      namespaceId: request.ref?.namespaceId ?? '',
      pipelineId: request.ref?.pipelineId ?? '',
      label: request.ref?.label ?? '',
      idempotencyKey: request.idempotencyKey ?? '',
      variables: request.variables ?? {},
      checkpoint: request.checkpoint ?? '',
    });
    return { outcome: OUTCOMES[result.outcome], runId: result.runId ?? 0 };
  }
}
