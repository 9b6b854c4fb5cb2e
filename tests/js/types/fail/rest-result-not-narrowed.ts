// Must not compile: a REST result is the success body or the error body; `chatid` exists only
// after narrowing on `ok`.
// expect: TS2339
import type { RestResult } from '@lockstep/contract';

declare const created: RestResult<'POST /api/chats'>;
export const chatid: string = created.body.chatid;
