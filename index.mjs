// ESM entry: the same objects as the CommonJS entry.
import ferrocache from './index.js'

export const { createClient, FerroError, key, TTL } = ferrocache
export default ferrocache
