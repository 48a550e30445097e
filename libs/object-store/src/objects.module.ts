import { Module } from '@nestjs/common';
import { DalModule } from '@gofer/dal';
import { EventsModule } from '@gofer/events';
import { ObjectService } from './object.service.js';

/** Pipeline and run objects: their metadata and limits, over the OBJECT_STORE backend the application provides. */
@Module({ imports: [DalModule, EventsModule], providers: [ObjectService], exports: [ObjectService] })
export class ObjectsModule {}
