'use strict';

// Example tokens are base64url JSON claims; a real authorizer verifies a signed JWT here.
function parseBearer(header) {
  const match = /^Bearer\s+([A-Za-z0-9_-]+)$/.exec(header);
  if (!match) return null;
  try {
    return JSON.parse(Buffer.from(match[1], 'base64url').toString('utf8'));
  } catch (error) {
    return null;
  }
}

function isAllowed(claims, issuer) {
  return claims.iss === issuer && typeof claims.tenant === 'string' && claims.exp * 1000 > Date.now();
}

module.exports = { parseBearer, isAllowed };
