// @lockstep/client: a typed, validating, retrying, catching-up client of the
// Lockstep socket contract. The core is hand-written (client.ts,
// messages.ts); the method table, the typed methods and the payload
// validators are generated from the contract (generated/client).
export { createClient, CONTRACT_VERSION } from './client.js';
export type { ClientOptions, ClientStatus, ContractViolation, LockstepClient, LockstepCore, ServerEvent } from './client.js';
export type { AckResult, LocalFailure, LockstepMethods } from './methods.js';
export { EVENTS } from './methods.js';
