import { Module } from '@nestjs/common';
import { DalModule } from '@gofer/dal';
import { EventsModule } from '@gofer/events';
import { TokenService } from './token.service.js';

/** Tokens, principals and their policy checks. */
@Module({ imports: [DalModule, EventsModule], providers: [TokenService], exports: [TokenService] })
export class AuthModule {}
