// Must not compile: `message_received` is not a server event of the contract.
// expect: TS2345
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '@lockstep/contract';

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io('http://localhost:3000');

socket.on('message_received', (payload: unknown) => console.log(payload));
