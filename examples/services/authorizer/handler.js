'use strict';

const { parseBearer, isAllowed } = require('./lib/token');

// HTTP API (payload 2.0) simple response and REST API (payload 1.0) policy response from one handler.
exports.authorize = async (event) => {
  const header = (event.headers && (event.headers.authorization || event.headers.Authorization)) || '';
  const claims = parseBearer(header);
  const allowed = claims !== null && isAllowed(claims, process.env.TOKEN_ISSUER);
  if (event.version === '2.0') {
    return { isAuthorized: allowed, context: allowed ? { tenantId: claims.tenant } : {} };
  }
  return {
    principalId: allowed ? claims.sub : 'anonymous',
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: allowed ? 'Allow' : 'Deny', Resource: event.methodArn }],
    },
    context: allowed ? { tenantId: claims.tenant } : {},
  };
};
