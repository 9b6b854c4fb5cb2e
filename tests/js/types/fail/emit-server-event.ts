// Must not compile: `new_message` is a server event; a client cannot emit it.
// expect: TS2345
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '@lockstep/contract';

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io('http://localhost:3000');

socket.emit('new_message', { message: {}, chat: {}, sender: {} });
