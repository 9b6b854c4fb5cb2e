// Must not compile: a refused `initiate_call` has no `callId`.
// expect: TS2339
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '@lockstep/contract';

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io('http://localhost:3000');

socket.emit('initiate_call', { targetId: 'p-bob', callType: 'video' }, (res) => {
  if (!res.success) {
    console.log(res.callId);
  }
});
