// Must not compile: `secret` is not a `ChatType` of the REST body `CreateChatRequest`.
// expect: TS2322
import type { RestRoutes } from '@lockstep/contract';

export const body: RestRoutes['POST /api/chats']['body'] = { chatType: 'secret', participants: ['p-bob'] };
