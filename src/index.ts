/**
 * switchboard: message-oriented socket programming for Node.js.
 *
 * This file is the curated public API. Each area keeps its own curated barrel;
 * everything a user imports is re-exported from here.
 *
 * @module switchboard
 */

export * from './binary/index.js';
export * from './codec/index.js';
export * from './errors.js';
export * from './net/index.js';
export { DEFAULTS } from './options.js';
export * from './server/index.js';
