// HS256 JWTs minted by hand, for what `lockstep token` deliberately cannot
// make: expired tokens, forged signatures, odd headers.
import { createHmac } from 'node:crypto';

import { SECRET } from './server.mjs';

const b64url = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Signs `claims` as an HS256 JWT (header overridable, e.g. `{ alg: 'none' }`). */
export function signJwt(claims, { secret = SECRET, header = { alg: 'HS256', typ: 'JWT' } } = {}) {
  const signingInput = `${b64url(header)}.${b64url(claims)}`;
  if (header.alg === 'none') return `${signingInput}.`;
  const signature = createHmac('sha256', secret).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}

/** Seconds since the epoch. */
export const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * Access-token claims for a profile (DESIGN.md: sub, profileid, username, exp, …).
 * `expiresIn` is in seconds and may be negative (already expired).
 */
export function accessClaims(profileid, { username = profileid, expiresIn = 3600, ...extra } = {}) {
  const now = nowSeconds();
  return { sub: profileid, profileid, username, iat: now, exp: now + expiresIn, ...extra };
}

/** The payload of a JWT, decoded without verification. */
export function decodeJwt(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}
