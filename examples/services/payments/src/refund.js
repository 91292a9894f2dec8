'use strict';

const { json } = require('../lib/respond');

exports.handler = async (event) => {
  const { paymentId } = event.pathParameters || {};
  if (!paymentId) return json(400, { message: 'paymentId is required' });
  // The processor call goes here; the example only acknowledges the request.
  return json(202, { paymentId, status: 'REFUND_REQUESTED', processor: process.env.PROCESSOR_URL });
};
