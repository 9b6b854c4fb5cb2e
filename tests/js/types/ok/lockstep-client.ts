// @lockstep/client as an application uses it: typed methods, discriminated
// results, typed server events, client-level events.
import { createClient, type ClientStatus, type ContractViolation, type LockstepClient } from '@lockstep/client';
import type { Message, UserTyping } from '@lockstep/contract';

const client: LockstepClient = createClient({ url: 'http://localhost:3000', profileid: 'p-alice', token: 'jwt', ackTimeoutMs: 5_000 });

export async function send(chatid: string): Promise<number | undefined> {
  const ack = await client.sendMessage({ chatid, messageType: 'text', content: 'hi' });
  if (ack.success) {
    const seq: number = ack.seq;
    const id: string = ack.serverMessageId;
    return id ? seq : undefined;
  }
  // The failure branch: the server's codes and the client's own.
  switch (ack.code) {
    case 'TIMEOUT':
    case 'DISCONNECTED':
      return undefined;
    case 'RATE_LIMITED':
      return ack.retryAfter;
    default:
      return undefined;
  }
}

export async function catchUp(): Promise<Message[]> {
  const ack = await client.sync({ positions: [{ chatid: 'chat-1', seq: client.lastSeq('chat-1') ?? 0 }], limit: 50 });
  return ack.success ? ack.chats.flatMap((chat) => chat.messages) : [];
}

export function wire(render: (message: Message) => void): () => void {
  client.joinChat({ chatid: 'chat-1' });
  client.joinChat('chat-1');
  client.typingStart({ chatid: 'chat-1' });
  const result: void = client.markMessageRead({ messageid: 'm-1', chatid: 'chat-1' });
  const stopTyping = client.on('user_typing', (payload: UserTyping) => console.log(payload.profileid));
  const stopMessages = client.onMessage(render);
  const stopViolations = client.onViolation((violation: ContractViolation) => console.warn(violation.event, violation.path));
  const stopStatus = client.onStatus((status: ClientStatus) => {
    if (status.state === 'refused' && status.code === 'AUTH_TOKEN_EXPIRED') client.close();
  });
  client.socket.connected;
  return () => {
    void result;
    stopTyping();
    stopMessages();
    stopViolations();
    stopStatus();
  };
}
