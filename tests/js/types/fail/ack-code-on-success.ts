// Must not compile: a successful ack has no `code`.
// expect: TS2339
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '@lockstep/contract';

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io('http://localhost:3000');

socket.emit('send_message', { chatid: 'chat-1', clientMessageId: 'c-1', messageType: 'text', content: 'hi' }, (res) => {
  if (res.success) {
    console.log(res.code);
  }
});
