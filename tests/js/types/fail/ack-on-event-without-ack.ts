// Must not compile: `typing_start` has no ack, so a callback is one argument too many.
// expect: TS2554
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '@lockstep/contract';

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io('http://localhost:3000');

socket.emit('typing_start', 'chat-1', () => {});
