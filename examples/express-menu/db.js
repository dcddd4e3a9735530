'use strict'
// A fake in-memory database: the menu, its dishes and one demo user. `reads`
// counts menu reads, so a test (or you) can see the cache at work.

function createDb() {
  let nextId = 4
  const dishes = new Map([
    [1, { id: 1, name: 'Margherita', price: 9.5, section: 'pizza' }],
    [2, { id: 2, name: 'Carbonara', price: 12, section: 'pasta' }],
    [3, { id: 3, name: 'Tiramisu', price: 6, section: 'dessert' }],
  ])
  const users = new Map([['chef', { id: 'u1', username: 'chef', password: 'secret' }]])

  return {
    reads: 0,
    /** Slow on purpose: what the cache saves. */
    async menu() {
      this.reads++
      await new Promise((resolve) => setTimeout(resolve, 50))
      const sections = {}
      for (const dish of dishes.values()) (sections[dish.section] ||= []).push(dish)
      return { sections, updatedAt: new Date().toISOString() }
    },
    async addDish({ name, price, section }) {
      const dish = { id: nextId++, name, price, section }
      dishes.set(dish.id, dish)
      return dish
    },
    async updateDish(id, patch) {
      const dish = dishes.get(id)
      if (dish === undefined) return null
      Object.assign(dish, pick(patch, ['name', 'price', 'section']))
      return dish
    },
    async deleteDish(id) {
      return dishes.delete(id)
    },
    async findUser(username, password) {
      const user = users.get(username)
      return user !== undefined && user.password === password ? { id: user.id, username } : null
    },
  }
}

function pick(obj, keys) {
  const out = {}
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k]
  return out
}

module.exports = { createDb }
