'use strict';
// Delivers queued webhook events of one tenant; the endpoint comes with each message.
const { describeDelivery } = require('./delivery');

exports.handler = async (event) => {
  const deliveries = event.Records.map((record) => describeDelivery(process.env.TENANT_ID, JSON.parse(record.body)));
  return { delivered: deliveries.length, deliveries };
};
