// Must not compile: `send_msg` is not a client event of the contract.
// expect: TS2345
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '@lockstep/contract';

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io('http://localhost:3000');

socket.emit('send_msg', { chatid: 'chat-1' });
