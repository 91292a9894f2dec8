'use strict';

exports.describeDelivery = (tenant, message) => ({ tenant, endpoint: message.endpoint, event: message.type });
