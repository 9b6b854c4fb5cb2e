// Must not compile: a successful ack has no `code` (it is a field of the failure branch).
// expect: TS2339
import { createClient } from '@lockstep/client';

const client = createClient({ url: 'http://localhost:3000', profileid: 'p-alice' });
export async function send(): Promise<string> {
  const ack = await client.sendMessage({ chatid: 'chat-1', messageType: 'text', content: 'hi' });
  if (ack.success) return ack.code;
  return ack.error;
}
