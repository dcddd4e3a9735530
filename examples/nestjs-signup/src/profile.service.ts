import { Injectable } from '@nestjs/common';
import { key } from 'ferrocache';
import { Cacheable, CacheEvict } from 'ferrocache/nestjs';
import { User, UsersStore } from './users.store';

const profileKey = (id: string) => key('profile', id);

/** Profile reads come from the cache (single-flight on a miss); an update evicts the entry. */
@Injectable()
export class ProfileService {
  constructor(private readonly users: UsersStore) {}

  @Cacheable({ key: profileKey, ttl: '10m' })
  async getProfile(id: string): Promise<User> {
    return this.users.find(id);
  }

  @CacheEvict({ keys: profileKey })
  async updateProfile(id: string, patch: { name?: string; city?: string }): Promise<User> {
    return this.users.update(id, patch);
  }
}
