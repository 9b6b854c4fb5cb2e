// Must not compile: the history query's `limit` is a number in the contract (`HistoryQuery`).
// expect: TS2322
import type { RestRoutes } from '@lockstep/contract';

export const query: RestRoutes['GET /api/chats/{chatid}/messages']['query'] = { limit: 'many' };
