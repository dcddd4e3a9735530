/**
 * A sample Express app tested the way its users test theirs: supertest against the app, on the
 * embedded `memory://` backend, with no Redis server. The app (built inline) caches its menu
 * with getOrSet and invalidates it after a write.
 */
import { randomBytes } from 'crypto';
import express from 'express';
import type { Express, NextFunction, Request, Response } from 'express';
import request from 'supertest';
import { createClient, key } from '../index';
import type { Client } from '../index';

interface Dish {
  id: number;
  name: string;
  category: string;
  price: number;
}

/** The app's database: a list that counts its reads, so tests see what the cache spared it. */
class MenuDb {
  reads = 0;
  private dishes: Dish[] = [
    { id: 1, name: 'Soup of the day', category: 'starters', price: 6 },
    { id: 2, name: 'Roast chicken', category: 'mains', price: 17 },
  ];

  async all(): Promise<Dish[]> {
    this.reads++;
    return this.dishes.map((d) => ({ ...d }));
  }

  async inCategory(category: string): Promise<Dish[]> {
    this.reads++;
    return this.dishes.filter((d) => d.category === category).map((d) => ({ ...d }));
  }

  async add(dish: Omit<Dish, 'id'>): Promise<Dish> {
    const created = { ...dish, id: this.dishes.length + 1 };
    this.dishes.push(created);
    return { ...created };
  }
}

/** The app under test, as its author would write it. */
function menuApp(redis: Client, db: MenuDb): Express {
  const app = express();
  app.use(express.json());

  app.get('/menu', async (_req: Request, res: Response) => {
    res.json(await redis.cache.getOrSet('menu:full', () => db.all(), { ttl: 300 }));
  });

  app.get('/menu/:category', async (req: Request, res: Response) => {
    // key() encodes the user's segment: it cannot widen the invalidation pattern below.
    const category = String(req.params.category);
    res.json(await redis.cache.getOrSet(key('menu', 'category', category), () => db.inCategory(category), { ttl: 300 }));
  });

  app.post('/menu', async (req: Request, res: Response) => {
    const dish = await db.add(req.body as Omit<Dish, 'id'>);
    await redis.cache.invalidate('menu:*');
    res.status(201).json(dish);
  });

  app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
    res.status(500).json({ error: err.message });
  });
  return app;
}

const clients: Client[] = [];

/** A client of `url` with the app's options, closed after the test. */
async function connect(url: string, options: { local?: false } = {}): Promise<Client> {
  const client = await createClient({ url, keyPrefix: 'menu-api:', ...options });
  clients.push(client);
  return client;
}

/** A store of this test alone: `memory://<name>`, shared by every client that names it. */
const freshStore = () => `memory://sample-app-${randomBytes(6).toString('hex')}`;

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

test('the menu is loaded from the database once, then served from the cache', async () => {
  const db = new MenuDb();
  const app = menuApp(await connect(freshStore()), db);

  const first = await request(app).get('/menu').expect(200);
  const second = await request(app).get('/menu').expect(200);

  expect(first.body).toHaveLength(2);
  expect(second.body).toEqual(first.body);
  expect(db.reads).toBe(1);
});

test('a write invalidates the cached menu and every cached category', async () => {
  const db = new MenuDb();
  const redis = await connect(freshStore());
  const app = menuApp(redis, db);
  await request(app).get('/menu').expect(200);
  await request(app).get('/menu/mains').expect(200);
  expect(db.reads).toBe(2);

  const created = await request(app).post('/menu').send({ name: 'Risotto', category: 'mains', price: 15 }).expect(201);
  expect(created.body).toEqual({ id: 3, name: 'Risotto', category: 'mains', price: 15 });

  const menu = await request(app).get('/menu').expect(200);
  const mains = await request(app).get('/menu/mains').expect(200);
  expect(menu.body.map((d: Dish) => d.name)).toContain('Risotto');
  expect(mains.body.map((d: Dish) => d.name)).toEqual(['Roast chicken', 'Risotto']);
  expect(db.reads).toBe(4);
  // The data is plain: the cached menu is the JSON the route served.
  expect(JSON.parse((await redis.command(['GET', 'menu-api:menu:full'])) as string)).toEqual(menu.body);
});

test('two instances on one named store share the cache, as two processes share a Redis', async () => {
  const db = new MenuDb();
  const store = freshStore();
  // Without the L1, each instance reads the shared store: a write through one is seen by the other at once.
  const [a, b] = [menuApp(await connect(store, { local: false }), db), menuApp(await connect(store, { local: false }), db)];

  const fromA = await request(a).get('/menu').expect(200);
  const fromB = await request(b).get('/menu').expect(200);
  expect(fromB.body).toEqual(fromA.body);
  expect(db.reads).toBe(1);

  await request(b).post('/menu').send({ name: 'Tart', category: 'desserts', price: 7 }).expect(201);
  const after = await request(a).get('/menu').expect(200);
  expect(after.body.map((d: Dish) => d.name)).toContain('Tart');
  expect(db.reads).toBe(2);
});

test('a failing database answers 500 and caches nothing', async () => {
  const db = new MenuDb();
  const redis = await connect(freshStore());
  const app = menuApp(redis, db);
  const all = jest.spyOn(db, 'all').mockRejectedValueOnce(new Error('database is down'));

  await request(app).get('/menu').expect(500, { error: 'database is down' });
  expect(await redis.exists('menu:full')).toBe(false);

  await request(app).get('/menu').expect(200);
  expect(all).toHaveBeenCalledTimes(2);
});
