// Acks are results: narrowing on `success` gives the success fields as
// required and the refusal's `code` as an ErrorCode, for every acked event.
// Also the runtime constants of the package, typed.
import { io, type Socket } from 'socket.io-client';
import {
  ERROR_CODES,
  EVENTS,
  LIMITS,
  type ClientToServerEvents,
  type ErrorCode,
  type InitiateCallAck,
  type SendMessageAck,
  type ServerToClientEvents,
} from '@lockstep/contract';

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io('http://localhost:3000', { autoConnect: false });

socket.emit('initiate_call', { targetId: 'p-bob', callType: 'video' }, (res) => {
  if (res.success) {
    const id: string = res.callId;
    const caller: string = res.callerId;
    const receiver: string = res.receiverId;
    const at: string = res.timestamp;
    console.log(id, caller, receiver, at, res.callType);
  } else {
    const code: ErrorCode = res.code;
    const error: string = res.error;
    const wait: number | undefined = res.retryAfter;
    console.log(code, error, wait);
  }
});

socket.emit('send_message', { chatid: 'chat-1', clientMessageId: 'c-1', messageType: 'text', content: 'hi' }, (res) => {
  if (res.success) {
    const id: string = res.serverMessageId;
    const mine: string = res.clientMessageId;
    const at: string = res.timestamp;
    console.log(id, mine, at);
  } else {
    const code: ErrorCode = res.code;
    const error: string = res.error;
    const mine: string | undefined = res.clientMessageId;
    if (code === ERROR_CODES.RATE_LIMITED) console.log(res.retryAfter);
    console.log(error, mine);
  }
});

// A legacy alias shares its target's ack.
socket.emit('call_offer', { targetId: 'p-bob', callType: 'voice' }, (res: InitiateCallAck) => {
  const id: string | undefined = res.success ? res.callId : undefined;
  console.log(id);
});

// emitWithAck resolves to the same union.
async function send(): Promise<string | null> {
  const res: SendMessageAck = await socket.emitWithAck('send_message', {
    chatid: 'chat-1',
    clientMessageId: 'c-2',
    messageType: 'text',
    content: 'x'.repeat(LIMITS.contentMaxBytes),
  });
  return res.success ? res.serverMessageId : null;
}
void send;

// The seed's migration table: `call_rejected` from a client rejects a call.
socket.emit('call_rejected', { callId: 'call-9' });
socket.emit(EVENTS.REJECT_CALL, { callId: 'call-9' });

const perSecond: number = LIMITS.rates.send_message.count / LIMITS.rates.send_message.periodSeconds;
const ring: number = LIMITS.ringTimeoutSeconds;
console.log(perSecond, ring, LIMITS.socketsPerUser, EVENTS.SEND_MESSAGE === 'send_message');
