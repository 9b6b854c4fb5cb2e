// Must not compile: `join_chat` has no ack, so its method returns nothing to read.
// expect: TS2339
import { createClient } from '@lockstep/client';

const client = createClient({ url: 'http://localhost:3000', profileid: 'p-alice' });
const result = client.joinChat({ chatid: 'chat-1' });
console.log(result.success);
