import { DynamicModule, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import type { ClientOptions } from 'ferrocache';
import { FerroHealthIndicator, FerroModule } from 'ferrocache/nestjs';
import { HealthController } from './health.controller';
import { ProfileController } from './profile.controller';
import { ProfileService } from './profile.service';
import { SignupController } from './signup.controller';
import { UsersStore } from './users.store';

@Module({})
export class AppModule {
  /** `redis`: where the client connects (a URL or client options). */
  static forRoot(redis: ClientOptions | string): DynamicModule {
    return {
      module: AppModule,
      imports: [FerroModule.forRoot(redis), TerminusModule],
      controllers: [SignupController, ProfileController, HealthController],
      providers: [UsersStore, ProfileService, FerroHealthIndicator],
    };
  }
}
