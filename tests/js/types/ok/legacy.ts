// Deprecated events still type-check: legacy client aliases carry their
// target's payload and ack, and deprecated server events can be listened to.
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, InitiateCallAck, ServerToClientEvents } from '@lockstep/contract';

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io('http://localhost:3000', {
  withCredentials: true,
  auth: { profileid: 'p-alice', timestamp: Date.now() },
});

// call_offer behaves exactly like initiate_call, ack included.
socket.emit('call_offer', { targetId: 'p-bob', callType: 'voice' }, (ack: InitiateCallAck) => {
  console.log(ack.success ? ack.callId : ack.code);
});
socket.emit('decline_call', { callId: 'call-9' });
// The seed's migration table names `call_rejected` as the new name of `decline_call`.
socket.emit('call_rejected', { callId: 'call-9' });
socket.emit('cancel_call', { callId: 'call-9' });
socket.emit('ice_candidate', { callId: 'call-9', targetId: 'p-bob', candidate: { candidate: 'candidate:1' } });

socket.on('user_online', ({ profileid }) => console.log('online', profileid));
socket.on('user_offline', ({ profileid }) => console.log('offline', profileid));
