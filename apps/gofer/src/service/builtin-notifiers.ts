import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { GOFER_CONFIG, type GoferConfig } from '@gofer/config';
import { NotifierService } from '@gofer/notifiers';
import { builtinImage } from './builtin-triggers.js';

/**
 * Installs the built-in notifiers GOFER_BUILTIN_NOTIFIERS names at startup, with the images of this
 * version (every replica does; an upsert that changes nothing when they are installed already).
 */
@Injectable()
export class BuiltinNotifiers implements OnApplicationBootstrap {
  constructor(
    private readonly notifiers: NotifierService,
    @Inject(GOFER_CONFIG) private readonly config: GoferConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.notifiers.installBuiltins((app) => builtinImage(this.config, app));
  }
}
