// Must not compile: `chatId` is not a field of SendMessage (the contract says `chatid`).
// expect: TS2561
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '@lockstep/contract';

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io('http://localhost:3000');

socket.emit('send_message', { chatId: 'chat-1', clientMessageId: 'c-1', messageType: 'text', content: 'hi' }, () => {});
