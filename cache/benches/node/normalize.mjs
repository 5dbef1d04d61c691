// Backstage's CacheClient key normalisation (for vectors.mjs).
import { createHash } from 'node:crypto';

export function normalize(key) {
  const k = Buffer.from(key).toString('base64');
  return k.length < 200 ? k : createHash('sha256').update(key).digest('base64');
}
