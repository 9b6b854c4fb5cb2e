// A small client that uses the generated types the way a frontend would.
// Must compile with `tsc --noEmit --strict` (see ../tsconfig.json).
import { io, type Socket } from 'socket.io-client';
import type {
  ChatRef,
  ClientEventName,
  ClientToServerEvents,
  ErrorCode,
  HandshakeAuth,
  InitiateCallAck,
  NewMessage,
  SendMessage,
  SendMessageAck,
  ServerEventName,
  ServerToClientEvents,
} from '@lockstep/contract';

const auth: HandshakeAuth = { profileid: 'p-alice', timestamp: Date.now() };
const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io('http://localhost:3000', {
  withCredentials: true,
  auth,
  autoConnect: false,
});

socket.on('authenticated', (session) => {
  const who: string = session.profile.displayname;
  const expires: string = session.session.expiresAt;
  console.log(who, expires, session.security.riskScore.toFixed(0));
});

socket.on('auth_error', ({ error, message }) => {
  const code: ErrorCode = error;
  console.log(code, message);
});

// An event without payload: the listener takes no argument.
socket.on('auth_required', () => socket.disconnect());

// join_chat accepts the bare id and the object form.
socket.emit('join_chat', 'chat-1');
socket.emit('join_chat', { chatid: 'chat-1' });
const ref: ChatRef = { chatid: 'chat-2' };
socket.emit('typing_start', ref);
socket.emit('typing_stop', 'chat-2');

socket.on('chat_joined', (joined) => {
  if (joined.permissions.canSendMessages && joined.role !== 'member') {
    console.log(joined.chatInfo.chatName, joined.chatInfo.participantCount);
  }
});

// send_message with its ack as the last argument.
const message: SendMessage = {
  chatid: 'chat-1',
  clientMessageId: 'c-1',
  messageType: 'text',
  content: 'hello @bob',
  mentions: ['p-bob'],
};
socket.emit('send_message', message, (ack: SendMessageAck) => {
  if (ack.success) {
    const id: string | undefined = ack.serverMessageId;
    console.log('stored as', id?.toUpperCase());
  } else {
    const code: ErrorCode | undefined = ack.code;
    console.log('refused', code, ack.error, ack.retryAfter);
  }
});

// An attachment message, with the ack parameter type inferred.
socket.emit(
  'send_message',
  {
    chatid: 'chat-1',
    clientMessageId: 'c-2',
    messageType: 'image',
    content: '',
    attachments: [{ type: 'image', url: 'https://cdn.example.com/a.png', name: 'a.png', size: 2048, mimetype: 'image/png' }],
    replyTo: 'm-41',
  },
  (ack) => console.log(ack.success, ack.clientMessageId),
);

// The promise form and the timeout form of the ack.
export async function sendWithAck(content: string): Promise<string | undefined> {
  const ack = await socket.emitWithAck('send_message', { chatid: 'chat-1', clientMessageId: 'c-3', messageType: 'text', content });
  return ack.success ? ack.serverMessageId : undefined;
}
socket.timeout(5000).emit('send_message', message, (err, ack) => {
  if (err) return;
  if (ack.success) console.log(ack.timestamp);
});

socket.on('new_message', (event: NewMessage) => {
  const text: string = event.message.content;
  const sender: string = event.sender.displayname;
  const offline: boolean | undefined = event.isOfflineDelivery;
  for (const attachment of event.message.attachments) {
    console.log(attachment.url, attachment.size);
  }
  console.log(text, sender, offline, event.chat.chatType, event.message.messageStatus);
  socket.emit('mark_message_read', { messageid: event.message.messageid, chatid: event.message.chatid });
  socket.emit('react_to_message', { messageid: event.message.messageid, chatid: event.message.chatid, emoji: '👍' });
});

socket.on('message_sent', ({ serverMessageId, deliveredTo }) => console.log(serverMessageId, deliveredTo.length));

// Calls: initiate_call with its ack.
socket.emit('initiate_call', { targetId: 'p-bob', callType: 'video', chatid: 'chat-1' }, (ack: InitiateCallAck) => {
  if (ack.success && ack.callId !== undefined) {
    socket.emit('webrtc_offer', { callId: ack.callId, targetId: 'p-bob', offer: { type: 'offer', sdp: 'v=0\r\n' } });
  }
});
socket.on('incoming_call', (call) => {
  socket.emit('answer_call', { callId: call.callId, acceptsVideo: call.callType === 'video' });
});
socket.on('webrtc_ice_candidate_received', ({ candidate }) => {
  const mid: string | null | undefined = candidate.sdpMid;
  console.log(mid, candidate.sdpMLineIndex);
});
socket.emit('webrtc_ice_candidate', {
  callId: 'call-9',
  targetId: 'p-bob',
  candidate: { candidate: 'candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host', sdpMid: null, sdpMLineIndex: 0 },
});
socket.on('call_ended', (ended) => {
  if (ended.reason === 'cancelled') console.log('caller cancelled', ended.duration ?? 0);
});
socket.emit('toggle_mute', { callId: 'call-9', muted: true });
socket.emit('end_call', { callId: 'call-9', reason: 'user_ended' });

// Health and errors.
socket.on('ping', (timestamp) => socket.emit('pong', timestamp));
socket.on('heartbeat', ({ timestamp }) => socket.emit('heartbeat_response', { timestamp, clientTime: new Date().toISOString() }));
socket.on('error', (refusal) => console.log(refusal.error, refusal.event, refusal.details));
socket.on('rate_limited', ({ retryAfter }) => console.log(retryAfter));

// The name unions match the event maps.
const clientEvents: ClientEventName[] = ['send_message', 'call_offer'];
const serverEvents: ServerEventName[] = ['new_message', 'user_online'];
const allClient: (keyof ClientToServerEvents)[] = clientEvents;
const allServer: (keyof ServerToClientEvents)[] = serverEvents;
console.log(allClient, allServer);

socket.connect();
