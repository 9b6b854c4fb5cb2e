// Must not compile: the contract has no client event `delete_message`, so the client has no method for it.
// expect: TS2339
import { createClient } from '@lockstep/client';

const client = createClient({ url: 'http://localhost:3000', profileid: 'p-alice' });
client.deleteMessage({ chatid: 'chat-1', messageid: 'm-1' });
