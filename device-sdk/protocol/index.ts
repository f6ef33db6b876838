/** The Baton wire contract, shared by the broker and the device SDK. */
export * from './errors.js';
export * from './json.js';
export * from './schemas.js';
export * from './topics.js';
export * from './topic-filter.js';
export * from './validation.js';
