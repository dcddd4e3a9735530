import { BadRequestException, Body, ConflictException, Controller, Get, HttpCode, NotFoundException, Param, Post, Put } from '@nestjs/common';
import { randomUUID } from 'crypto';
import type { Client, Draft, Drafts, FerroError } from 'ferrocache';
import { InjectFerro, RateLimit } from 'ferrocache/nestjs';
import { User, UsersStore } from './users.store';

/** What the three steps collect. */
interface SignupSteps {
  account?: { email: string };
  profile?: { name: string; city: string };
  plan?: { plan: 'free' | 'pro' };
}

const PLANS = ['free', 'pro'];

/**
 * A 3-step sign-up. The draft lives in Redis (`drafts('onboarding')`, a hash with a sliding TTL),
 * so a user can resume it from any instance; the last step completes it (read and delete in one
 * transaction: a double submit creates one user) into the user store. Each step sends the
 * `version` it last saw: a stale one (another tab saved meanwhile) gets 409.
 */
@Controller('signup')
export class SignupController {
  private readonly drafts: Drafts;

  constructor(@InjectFerro() redis: Client, private readonly users: UsersStore) {
    this.drafts = redis.drafts('onboarding', { ttl: '1d' });
  }

  /** Step 1 starts a draft. Rate-limited per IP (the endpoint bots hammer): 5 at once, then one every 2 minutes. */
  @Post()
  @RateLimit({ name: 'signup', limit: 5, window: '10m', algorithm: 'token-bucket' })
  async start(@Body() body: { email?: unknown }): Promise<{ draftId: string; version: number }> {
    if (typeof body.email !== 'string' || !body.email.includes('@')) throw new BadRequestException('email is required');
    const draftId = randomUUID();
    const draft = await this.drafts.save(draftId, 'account', { email: body.email });
    return { draftId, version: draft.version };
  }

  /** Where the user left off. */
  @Get(':draftId')
  async resume(@Param('draftId') draftId: string): Promise<Draft<SignupSteps>> {
    const draft = await this.drafts.get<SignupSteps>(draftId);
    if (draft === null) throw new NotFoundException('No such sign-up (it may have expired)');
    return draft;
  }

  /** Step 2. */
  @Put(':draftId/profile')
  async profile(
    @Param('draftId') draftId: string,
    @Body() body: { name?: unknown; city?: unknown; version?: unknown },
  ): Promise<{ draftId: string; version: number }> {
    if (typeof body.name !== 'string' || typeof body.city !== 'string') throw new BadRequestException('name and city are required');
    const draft = await this.save(draftId, 'profile', { name: body.name, city: body.city }, body.version);
    return { draftId, version: draft.version };
  }

  /** Step 3: saves the plan, then completes the draft into a user. */
  @Post(':draftId/complete')
  @HttpCode(201)
  async complete(@Param('draftId') draftId: string, @Body() body: { plan?: unknown; version?: unknown }): Promise<User> {
    if (typeof body.plan !== 'string' || !PLANS.includes(body.plan)) throw new BadRequestException(`plan must be one of ${PLANS.join(', ')}`);
    const saved = await this.save(draftId, 'plan', { plan: body.plan }, body.version);
    const { account, profile } = saved.steps as SignupSteps;
    if (account === undefined || profile === undefined) throw new BadRequestException('finish the account and profile steps first');
    const done = await this.drafts.complete<SignupSteps>(draftId);
    if (done === null) throw new ConflictException('This sign-up was completed already');
    return this.users.create({ email: account.email, name: profile.name, city: profile.city, plan: body.plan as 'free' | 'pro' });
  }

  /** Saves a step of an existing draft, at the version the client saw. */
  private async save(draftId: string, step: string, data: unknown, version: unknown): Promise<Draft> {
    if (!Number.isSafeInteger(version)) throw new BadRequestException('version (from the previous step) is required');
    try {
      return await this.drafts.save(draftId, step, data, { expectedVersion: version as number });
    } catch (err) {
      if ((err as FerroError).code !== 'ERR_DRAFT_CONFLICT') throw err;
      // Version 0 is a draft that does not exist (any more).
      if ((await this.drafts.get(draftId)) === null) throw new NotFoundException('No such sign-up (it may have expired)');
      throw new ConflictException('The sign-up changed meanwhile: reload it');
    }
  }
}
