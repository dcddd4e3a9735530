// `npm run demo:nest`: the sign-up API on memory:// (no Redis server needed), or on REDIS_URL.
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';

async function bootstrap(): Promise<void> {
  const url = process.env.REDIS_URL || 'memory://';
  const app = await NestFactory.create(AppModule.forRoot({ url, keyPrefix: 'signup:' }), { logger: ['error', 'warn'] });
  app.enableShutdownHooks(); // Ctrl-C closes the app, and FerroModule closes the client
  await app.listen(Number(process.env.PORT || 3001));
  const base = (await app.getUrl()).replace('[::1]', 'localhost').replace('127.0.0.1', 'localhost');
  const json = `-H 'Content-Type: application/json'`;
  console.log(`sign-up API on ${base} (${url === 'memory://' ? 'memory://, no Redis server; set REDIS_URL for one' : url})

Try (each step answers the draft's new version; send it with the next step):
  curl -s -X POST ${base}/signup ${json} -d '{"email":"ada@example.com"}'            # {"draftId":"<id>","version":1}
  curl -s ${base}/signup/<id>                                                        # resume: the draft so far
  curl -s -X PUT ${base}/signup/<id>/profile ${json} -d '{"name":"Ada","city":"London","version":1}'
  curl -s -X POST ${base}/signup/<id>/complete ${json} -d '{"plan":"pro","version":2}'  # the user, with its id
  curl -i ${base}/users/<user id>/profile                                            # cached after the first read
  curl -s -X PATCH ${base}/users/<user id>/profile ${json} -d '{"city":"Paris"}'      # evicts the cached profile
  curl -i ${base}/health

Ctrl-C stops it.`);
}

bootstrap().catch((err) => {
  console.error(err);
  process.exit(1);
});
