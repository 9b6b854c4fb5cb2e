// Must not compile: `messageType` is one of the contract's message types.
// expect: TS2322
import { createClient } from '@lockstep/client';

const client = createClient({ url: 'http://localhost:3000', profileid: 'p-alice' });
void client.sendMessage({ chatid: 'chat-1', messageType: 'sticker', content: 'hi' });
