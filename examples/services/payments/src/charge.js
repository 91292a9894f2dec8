'use strict';

const crypto = require('node:crypto');
const { SQSClient, SendMessageCommand } = require('@aws-sdk/client-sqs');
const { json } = require('../lib/respond');

const sqs = new SQSClient({});

exports.handler = async (event) => {
  const { amount, currency } = JSON.parse(event.body || '{}');
  if (!Number.isInteger(amount) || amount <= 0 || typeof currency !== 'string') {
    return json(400, { message: 'amount (positive integer, minor units) and currency are required' });
  }
  const payment = { paymentId: crypto.randomUUID(), amount, currency, status: 'AUTHORIZED' };
  await sqs.send(new SendMessageCommand({ QueueUrl: process.env.SETTLEMENT_QUEUE_URL, MessageBody: JSON.stringify(payment) }));
  return json(201, payment);
};
