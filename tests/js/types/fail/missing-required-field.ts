// Must not compile: SendMessage requires `clientMessageId`.
// expect: TS2345
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '@lockstep/contract';

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io('http://localhost:3000');

socket.emit('send_message', { chatid: 'chat-1', messageType: 'text', content: 'hi' }, () => {});
