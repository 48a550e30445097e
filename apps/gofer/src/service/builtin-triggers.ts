import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { GOFER_CONFIG, LOGGER, type GoferConfig } from '@gofer/config';
import { TriggerService } from '@gofer/triggers';
import type { Logger } from 'pino';
import { GOFER_VERSION } from '../version.js';

/** The image of a built-in trigger or notifier app (`apps/<app>`, built by scripts/extension-images.mjs). */
export function builtinImage(config: GoferConfig, app: string): string {
  return `${config.builtinImagePrefix}${app}:${GOFER_VERSION}`;
}

/**
 * Installs the built-in triggers GOFER_BUILTIN_TRIGGERS names at startup (every replica does; the
 * install changes nothing when the same image and settings are installed already). `github` needs
 * GOFER_GITHUB_WEBHOOK_SECRET: without it, it is left out with a warning, since it would refuse to start.
 */
@Injectable()
export class BuiltinTriggers implements OnApplicationBootstrap {
  constructor(
    private readonly triggers: TriggerService,
    @Inject(GOFER_CONFIG) private readonly config: GoferConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    for (const name of this.config.builtinTriggers) {
      const settings: Record<string, string> = {};
      if (name === 'github') {
        if (!this.config.githubWebhookSecret) {
          this.logger.warn('the built-in github trigger is not installed: set GOFER_GITHUB_WEBHOOK_SECRET to the secret of your GitHub webhooks');
          continue;
        }
        settings.secret = this.config.githubWebhookSecret;
      }
      await this.triggers.installBuiltin({ name, image: builtinImage(this.config, `trigger-${name}`), settings });
    }
  }
}
