import { Injectable, NotFoundException } from '@nestjs/common';
import { randomUUID } from 'crypto';

export interface User {
  id: string;
  email: string;
  name: string;
  city: string;
  plan: 'free' | 'pro';
  createdAt: string;
}

/** A fake user store (a real app has a database here). `reads` counts profile reads. */
@Injectable()
export class UsersStore {
  private readonly users = new Map<string, User>();
  reads = 0;

  async create(data: Omit<User, 'id' | 'createdAt'>): Promise<User> {
    const user: User = { id: randomUUID(), createdAt: new Date().toISOString(), ...data };
    this.users.set(user.id, user);
    return user;
  }

  async find(id: string): Promise<User> {
    this.reads++;
    const user = this.users.get(id);
    if (user === undefined) throw new NotFoundException(`No user ${id}`);
    return { ...user };
  }

  async update(id: string, patch: Partial<Pick<User, 'name' | 'city'>>): Promise<User> {
    const user = this.users.get(id);
    if (user === undefined) throw new NotFoundException(`No user ${id}`);
    if (patch.name !== undefined) user.name = patch.name;
    if (patch.city !== undefined) user.city = patch.city;
    return { ...user };
  }
}
