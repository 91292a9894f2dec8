'use strict';

// REST API (payload 1.0) proxy responses.
exports.json = (statusCode, body) => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
