'use strict';

// Superseded by the tenant-analytics product; see legacy-reports/serverless.yml.
exports.monthly = async () => ({ status: 'retired', bucket: process.env.REPORT_BUCKET });
