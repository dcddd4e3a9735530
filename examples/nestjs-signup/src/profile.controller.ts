import { Body, Controller, Get, Param, Patch } from '@nestjs/common';
import { ProfileService } from './profile.service';
import { User } from './users.store';

@Controller('users/:id/profile')
export class ProfileController {
  constructor(private readonly profiles: ProfileService) {}

  @Get()
  get(@Param('id') id: string): Promise<User> {
    return this.profiles.getProfile(id);
  }

  @Patch()
  update(@Param('id') id: string, @Body() body: { name?: string; city?: string }): Promise<User> {
    return this.profiles.updateProfile(id, { name: body.name, city: body.city });
  }
}
