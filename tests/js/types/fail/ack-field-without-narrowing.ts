// Must not compile: `callId` exists only on the success branch of the ack;
// reading it before narrowing on `success` is an error.
// expect: TS2339
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '@lockstep/contract';

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io('http://localhost:3000');

socket.emit('initiate_call', { targetId: 'p-bob', callType: 'video' }, (res) => {
  const id: string = res.callId;
  console.log(id);
});
