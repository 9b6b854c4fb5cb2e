// Must not compile: `content` is required (the client fills only `clientMessageId`).
// expect: TS2345
import { createClient } from '@lockstep/client';

const client = createClient({ url: 'http://localhost:3000', profileid: 'p-alice' });
void client.sendMessage({ chatid: 'chat-1', messageType: 'text' });
