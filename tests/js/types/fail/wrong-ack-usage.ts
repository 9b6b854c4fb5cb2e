// Must not compile: the successful ack's `serverMessageId` is a string, not a number.
// expect: TS2322
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '@lockstep/contract';

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io('http://localhost:3000');

socket.emit('send_message', { chatid: 'chat-1', clientMessageId: 'c-1', messageType: 'text', content: 'hi' }, (ack) => {
  if (ack.success) {
    const id: number = ack.serverMessageId;
    console.log(id);
  }
});
