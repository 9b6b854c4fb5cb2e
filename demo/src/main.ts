// The Lockstep demo page: sign in with a dev token, list and open chats,
// send messages, and make a WebRTC call through the server's signaling
// relay. Plain DOM, no framework. Every event name and payload is typed by
// the generated contract (`@lockstep/contract` is generated/ts), so this
// file stops compiling when the contract changes under it.
//
// Built into dist/main.js by `node demo/build.mjs`; the server serves it at
// /demo/main.js. socket.io-client is the npm package's ESM browser build,
// resolved by the import map in index.html.
import { io, type Socket } from 'socket.io-client';
import type {
  CallEnded,
  ChatDetails,
  ChatList,
  ChatListEntry,
  MessagePage,
  RestError,
  CallType,
  ClientToServerEvents,
  HandshakeAuth,
  IncomingCall,
  Message,
  ServerToClientEvents,
  SessionDescription,
} from '@lockstep/contract';

type LockstepSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** The call this page takes part in (ringing, connecting or connected). */
interface CallState {
  callId: string;
  /** The other party's profile id. */
  peerId: string;
  role: 'caller' | 'callee';
  callType: CallType;
  phase: 'ringing' | 'connecting' | 'connected';
  pc: RTCPeerConnection | null;
  localStream: MediaStream | null;
  remoteStream: MediaStream;
  /** Candidates that arrived before the remote description. */
  pendingCandidates: RTCIceCandidateInit[];
  /** Signaling is handled strictly in arrival order. */
  signaling: Promise<void>;
  muted: boolean;
  videoOff: boolean;
}

interface State {
  profileid: string | null;
  /** The access token, kept for REST (sent as a bearer token). */
  token: string | null;
  socket: LockstepSocket | null;
  authenticated: boolean;
  chats: ChatListEntry[];
  openChatId: string | null;
  messages: Map<string, Message[]>;
  call: CallState | null;
  incoming: IncomingCall | null;
  /** The last call outcome, for the page and tests. */
  lastCallEnd: { callId: string; event: string; reason?: string; duration?: number } | null;
  /** Everything that happened, newest last (also shown on the page). */
  log: string[];
}

const state: State = {
  profileid: null,
  token: null,
  socket: null,
  authenticated: false,
  chats: [],
  openChatId: null,
  messages: new Map(),
  call: null,
  incoming: null,
  lastCallEnd: null,
  log: [],
};

const ACK_TIMEOUT_MS = 10_000;

// ------------------------------------------------------------------ DOM

function el<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from the page`);
  return found as T;
}

function input(id: string): HTMLInputElement {
  return el<HTMLInputElement>(id);
}

function show(id: string, visible: boolean): void {
  el(id).hidden = !visible;
}

function log(line: string): void {
  const stamped = `${new Date().toISOString().slice(11, 23)} ${line}`;
  state.log.push(stamped);
  if (state.log.length > 500) state.log.splice(0, state.log.length - 500);
  const list = el('log');
  const item = document.createElement('li');
  item.textContent = stamped;
  list.prepend(item);
  while (list.childElementCount > 200) list.lastElementChild?.remove();
}

function setStatus(id: string, text: string): void {
  el(id).textContent = text;
}

// ------------------------------------------------------------------ sign in

/** The `profileid` claim of a JWT, read without verifying it (the server verifies). */
function profileidOfToken(token: string): string | null {
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const claims: unknown = JSON.parse(json);
    if (claims && typeof claims === 'object' && 'profileid' in claims && typeof claims.profileid === 'string') {
      return claims.profileid;
    }
  } catch {
    // not a JWT: the server will say so
  }
  return null;
}

function signIn(token: string, profileid?: string): void {
  token = token.trim();
  const who = profileid?.trim() || profileidOfToken(token);
  if (!token || !who) {
    setStatus('auth-status', 'paste a token from `lockstep token …` (and the profile id if the token has none)');
    return;
  }
  state.socket?.close();
  // The socket's handshake carries the token in this cookie. Cookies are
  // shared by every tab of a browser profile, so it is set again before
  // each reconnection (another tab may have signed in as someone else), and
  // REST calls send the token as a bearer token instead.
  const setCookie = () => {
    document.cookie = `accessToken=${token}; path=/; SameSite=Strict`;
  };
  setCookie();
  state.token = token;
  state.profileid = who;
  state.authenticated = false;
  setStatus('auth-status', `connecting as ${who}…`);

  const socket: LockstepSocket = io(location.origin, {
    withCredentials: true,
    transports: ['websocket'],
    // A function, so a reconnection sends a fresh timestamp.
    auth: (send) => {
      const auth: HandshakeAuth = { profileid: who, timestamp: Date.now() };
      send(auth);
    },
  });
  socket.io.on('reconnect_attempt', setCookie);
  state.socket = socket;
  listen(socket);
}

function listen(socket: LockstepSocket): void {
  socket.on('connect_error', (error) => {
    setStatus('auth-status', `cannot connect: ${error.message}`);
    log(`connect_error ${error.message}`);
  });
  socket.on('disconnect', (reason) => {
    state.authenticated = false;
    setStatus('auth-status', `disconnected (${reason})`);
    log(`disconnected: ${reason}`);
    if (state.call) endLocally(state.call.callId, 'disconnected');
  });
  socket.on('authenticated', ({ profile }) => {
    state.authenticated = true;
    setStatus('auth-status', `signed in as ${profile.displayname} (${profile.profileid})`);
    log(`authenticated as ${profile.profileid}`);
    show('signed-in', true);
    void loadChats();
  });
  socket.on('auth_error', ({ error, message }) => {
    setStatus('auth-status', `sign-in refused: ${error}: ${message}`);
    log(`auth_error ${error}`);
  });
  socket.on('auth_required', () => {
    setStatus('auth-status', 'the token expired: paste a new one');
    log('auth_required');
  });

  // Keep-alives the server expects answers to.
  socket.on('ping', (timestamp) => socket.emit('pong', timestamp));
  socket.on('heartbeat', ({ timestamp }) =>
    socket.emit('heartbeat_response', { timestamp, clientTime: new Date().toISOString() }),
  );

  socket.on('error', ({ error, message, event }) => log(`error ${error}${event ? ` (${event})` : ''}: ${message}`));
  socket.on('chat_error', ({ error, message }) => log(`chat_error ${error}: ${message}`));
  socket.on('rate_limited', ({ event, retryAfter }) => log(`rate limited${event ? ` (${event})` : ''}: retry in ${retryAfter}s`));

  socket.on('new_message', ({ message, chat }) => {
    addMessage(message);
    if (!state.chats.some((c) => c.chatid === chat.chatid)) void loadChats();
    if (message.senderid !== state.profileid) rememberPeer(message.chatid, message.senderid);
  });
  socket.on('user_status_changed', ({ profileid, isOnline }) => log(`${profileid} is ${isOnline ? 'online' : 'offline'}`));

  socket.on('incoming_call', onIncomingCall);
  socket.on('call_answered', ({ callId, answeredBy }) => void onCallAnswered(callId, answeredBy));
  socket.on('call_rejected', ({ callId, rejectedBy }) => endLocally(callId, 'call_rejected', `rejected by ${rejectedBy}`));
  socket.on('call_missed', ({ callId }) => endLocally(callId, 'call_missed', 'no answer'));
  socket.on('call_ended', (ended: CallEnded) => endLocally(ended.callId, 'call_ended', ended.reason, ended.duration));

  socket.on('webrtc_offer_received', ({ callId, offer }) =>
    signal(callId, 'offer', async (call) => {
      const pc = ensurePeerConnection(call);
      await pc.setRemoteDescription(toDescription(offer));
      await flushCandidates(call);
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      socket.emit('webrtc_answer', { callId, targetId: call.peerId, answer: fromDescription(answer) });
    }),
  );
  socket.on('webrtc_answer_received', ({ callId, answer }) =>
    signal(callId, 'answer', async (call) => {
      const pc = ensurePeerConnection(call);
      await pc.setRemoteDescription(toDescription(answer));
      await flushCandidates(call);
    }),
  );
  socket.on('webrtc_ice_candidate_received', ({ callId, candidate }) =>
    signal(callId, 'candidate', async (call) => {
      const init: RTCIceCandidateInit = {
        candidate: candidate.candidate ?? '',
        sdpMid: candidate.sdpMid ?? null,
        sdpMLineIndex: candidate.sdpMLineIndex ?? null,
        usernameFragment: candidate.usernameFragment ?? null,
      };
      const pc = call.pc;
      if (pc?.remoteDescription) await pc.addIceCandidate(init);
      else call.pendingCandidates.push(init);
    }),
  );

  socket.on('participant_muted', ({ profileid, muted }) => setStatus('peer-status', `${profileid} ${muted ? 'muted' : 'unmuted'}`));
  socket.on('participant_video_toggled', ({ profileid, videoEnabled }) =>
    setStatus('peer-status', `${profileid} turned video ${videoEnabled ? 'on' : 'off'}`),
  );
  socket.on('participant_screen_share_toggled', ({ profileid, screenSharing }) =>
    setStatus('peer-status', `${profileid} ${screenSharing ? 'shares' : 'stopped sharing'} their screen`),
  );
}

// ------------------------------------------------------------------ chats

async function rest<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const parsed: unknown = text ? JSON.parse(text) : undefined;
  if (!response.ok) {
    const failure = parsed as RestError | undefined;
    throw new Error(`${failure?.error ?? response.status}: ${failure?.message ?? text}`);
  }
  return parsed as T;
}

async function loadChats(): Promise<void> {
  try {
    const { chats } = await rest<ChatList>('GET', '/api/chats');
    state.chats = chats;
    renderChats();
  } catch (error) {
    log(`cannot list chats: ${(error as Error).message}`);
  }
}

function chatLabel(chat: ChatListEntry): string {
  return chat.chatName || `${chat.chatType} chat ${chat.chatid.slice(-6)}`;
}

function renderChats(): void {
  const list = el('chats');
  list.replaceChildren(
    ...state.chats.map((chat) => {
      const item = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'chat';
      button.dataset.chatid = chat.chatid;
      button.textContent = `${chatLabel(chat)} (${chat.participantCount})`;
      if (chat.chatid === state.openChatId) button.classList.add('open');
      button.addEventListener('click', () => void openChat(chat.chatid));
      item.append(button);
      return item;
    }),
  );
  setStatus('chats-status', state.chats.length ? '' : 'no chats yet');
}

async function createChat(): Promise<void> {
  const participants = input('new-chat-participants')
    .value.split(/[\s,]+/)
    .filter((p) => p.length > 0);
  const chatType = el<HTMLSelectElement>('new-chat-type').value;
  const chatName = input('new-chat-name').value.trim();
  try {
    const chat = await rest<ChatDetails>('POST', '/api/chats', {
      chatType,
      participants,
      ...(chatName ? { chatName } : {}),
    });
    for (const p of chat.participants) if (p.profileid !== state.profileid) rememberPeer(chat.chatid, p.profileid);
    await loadChats();
    await openChat(chat.chatid);
  } catch (error) {
    log(`cannot create the chat: ${(error as Error).message}`);
  }
}

/** Someone else in a chat: the default target of a call from it. */
const peers = new Map<string, string>();
function rememberPeer(chatid: string, profileid: string): void {
  if (!peers.has(chatid)) peers.set(chatid, profileid);
  if (chatid === state.openChatId && !input('call-target').value) input('call-target').value = profileid;
}

async function openChat(chatid: string): Promise<void> {
  state.openChatId = chatid;
  renderChats();
  show('chat', true);
  const chat = state.chats.find((c) => c.chatid === chatid);
  setStatus('chat-title', chat ? chatLabel(chat) : chatid);
  state.socket?.emit('join_chat', { chatid });
  const peer = peers.get(chatid);
  if (peer) input('call-target').value = peer;
  try {
    const { messages } = await rest<MessagePage>(
      'GET',
      `/api/chats/${encodeURIComponent(chatid)}/messages?limit=50`,
    );
    const known = state.messages.get(chatid) ?? [];
    const merged = new Map<string, Message>();
    for (const m of [...messages.slice().reverse(), ...known]) merged.set(m.messageid, m);
    state.messages.set(
      chatid,
      [...merged.values()].sort((a, b) => a.timestamp.localeCompare(b.timestamp)),
    );
    for (const m of messages) if (m.senderid !== state.profileid) rememberPeer(chatid, m.senderid);
  } catch (error) {
    log(`cannot load the history: ${(error as Error).message}`);
  }
  renderMessages();
}

function addMessage(message: Message): void {
  const list = state.messages.get(message.chatid) ?? [];
  if (!list.some((m) => m.messageid === message.messageid)) list.push(message);
  state.messages.set(message.chatid, list);
  if (message.chatid === state.openChatId) renderMessages();
  else log(`new message in ${message.chatid} from ${message.senderid}`);
}

function renderMessages(): void {
  const list = el('messages');
  const messages = state.openChatId ? state.messages.get(state.openChatId) ?? [] : [];
  list.replaceChildren(
    ...messages.map((m) => {
      const item = document.createElement('li');
      item.className = m.senderid === state.profileid ? 'message mine' : 'message';
      item.dataset.messageid = m.messageid;
      const who = document.createElement('b');
      who.textContent = m.senderid === state.profileid ? 'me' : m.senderid;
      item.append(who, `: ${m.content}`);
      return item;
    }),
  );
}

async function sendMessage(): Promise<void> {
  const socket = state.socket;
  const chatid = state.openChatId;
  const box = input('message-text');
  const content = box.value;
  if (!socket || !chatid || !content.trim()) return;
  box.value = '';
  try {
    const clientMessageId = crypto.randomUUID();
    const ack = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck('send_message', {
      chatid,
      clientMessageId,
      messageType: 'text',
      content,
    });
    if (ack.success && ack.serverMessageId && ack.seq !== undefined) {
      // The sending socket learns of its message from the ack (and
      // `message_sent`), not from `new_message`.
      addMessage({
        messageid: ack.serverMessageId,
        chatid,
        seq: ack.seq,
        senderid: state.profileid ?? '',
        clientMessageId,
        messageType: 'text',
        content,
        attachments: [],
        mentions: [],
        reactions: [],
        timestamp: ack.timestamp ?? new Date().toISOString(),
        messageStatus: 'sent',
      });
    } else {
      log(`message refused: ${ack.code}: ${ack.error}`);
      box.value = content;
    }
  } catch (error) {
    log(`no answer to send_message: ${(error as Error).message}`);
    box.value = content;
  }
}

// ------------------------------------------------------------------ calls

function renderCall(): void {
  const call = state.call;
  show('incoming', state.incoming !== null && call === null);
  if (state.incoming && !call) {
    setStatus(
      'incoming-text',
      `${state.incoming.callerName || state.incoming.callerId} is calling (${state.incoming.callType})`,
    );
  }
  show('in-call', call !== null);
  el<HTMLButtonElement>('call-video').disabled = call !== null;
  el<HTMLButtonElement>('call-voice').disabled = call !== null;
  if (call) {
    const connection = call.pc ? ` · ${call.pc.connectionState}` : '';
    setStatus('call-status', `${call.role === 'caller' ? 'calling' : 'in a call with'} ${call.peerId} · ${call.phase}${connection}`);
    el('mute').textContent = call.muted ? 'Unmute' : 'Mute';
    el('toggle-video').textContent = call.videoOff ? 'Camera on' : 'Camera off';
  }
  document.body.dataset.call = call ? call.phase : state.incoming ? 'incoming' : 'idle';
}

async function media(callType: CallType): Promise<MediaStream> {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: callType === 'video' });
  el<HTMLVideoElement>('local-video').srcObject = stream;
  return stream;
}

function newCall(callId: string, peerId: string, role: CallState['role'], callType: CallType, stream: MediaStream): CallState {
  return {
    callId,
    peerId,
    role,
    callType,
    phase: 'ringing',
    pc: null,
    localStream: stream,
    remoteStream: new MediaStream(),
    pendingCandidates: [],
    signaling: Promise.resolve(),
    muted: false,
    videoOff: false,
  };
}

async function startCall(callType: CallType): Promise<void> {
  const socket = state.socket;
  const targetId = input('call-target').value.trim();
  if (!socket || state.call) return;
  if (!targetId) {
    setStatus('call-status', 'enter the profile id to call');
    return;
  }
  let stream: MediaStream;
  try {
    stream = await media(callType);
  } catch (error) {
    setStatus('call-status', `no camera or microphone: ${(error as Error).message}`);
    return;
  }
  try {
    const ack = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck('initiate_call', {
      targetId,
      callType,
      ...(state.openChatId ? { chatid: state.openChatId } : {}),
    });
    if (!ack.success || !ack.callId) {
      stopStream(stream);
      setStatus('call-status', `call refused: ${ack.code}: ${ack.error}`);
      log(`initiate_call refused: ${ack.code}`);
      return;
    }
    state.call = newCall(ack.callId, targetId, 'caller', callType, stream);
    log(`calling ${targetId} (${ack.callId})`);
    renderCall();
  } catch (error) {
    stopStream(stream);
    setStatus('call-status', `no answer to initiate_call: ${(error as Error).message}`);
  }
}

function onIncomingCall(incoming: IncomingCall): void {
  log(`incoming ${incoming.callType} call ${incoming.callId} from ${incoming.callerId}`);
  if (state.call) return; // busy here; the server refuses calls to busy users anyway
  state.incoming = incoming;
  renderCall();
}

async function answerCall(): Promise<void> {
  const incoming = state.incoming;
  const socket = state.socket;
  if (!incoming || !socket || state.call) return;
  let stream: MediaStream;
  try {
    stream = await media(incoming.callType);
  } catch (error) {
    setStatus('call-status', `no camera or microphone: ${(error as Error).message}`);
    return;
  }
  if (state.incoming?.callId !== incoming.callId) {
    // It stopped ringing while the camera started.
    stopStream(stream);
    return;
  }
  state.incoming = null;
  const call = newCall(incoming.callId, incoming.callerId, 'callee', incoming.callType, stream);
  call.phase = 'connecting';
  state.call = call;
  // Ready before the caller's offer can arrive.
  ensurePeerConnection(call);
  socket.emit('answer_call', { callId: call.callId, acceptsVideo: incoming.callType === 'video' });
  log(`answered ${call.callId}`);
  renderCall();
}

function rejectCall(): void {
  const incoming = state.incoming;
  if (!incoming) return;
  state.socket?.emit('reject_call', { callId: incoming.callId });
  state.incoming = null;
  renderCall();
}

function hangUp(): void {
  const call = state.call;
  if (!call) return;
  if (call.role === 'caller' && call.phase === 'ringing') state.socket?.emit('call_cancelled', { callId: call.callId });
  else state.socket?.emit('end_call', { callId: call.callId, reason: 'user_ended' });
  endLocally(call.callId, 'hang_up');
}

async function onCallAnswered(callId: string, answeredBy: string): Promise<void> {
  if (state.incoming?.callId === callId) {
    // Answered on another of this user's devices: stop ringing here.
    log(`${callId} was answered on another device`);
    state.incoming = null;
    renderCall();
    return;
  }
  const call = state.call;
  if (!call || call.callId !== callId || call.role !== 'caller') return;
  log(`${answeredBy} answered ${callId}`);
  call.phase = 'connecting';
  renderCall();
  await signal(callId, 'start', async (current) => {
    const pc = ensurePeerConnection(current);
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    state.socket?.emit('webrtc_offer', { callId, targetId: current.peerId, offer: fromDescription(offer) });
  });
}

/** Runs signaling work for `callId` after everything before it. */
function signal(callId: string, what: string, work: (call: CallState) => Promise<void>): Promise<void> {
  const call = state.call;
  if (!call || call.callId !== callId) {
    log(`ignored ${what} for ${callId}: not in that call`);
    return Promise.resolve();
  }
  call.signaling = call.signaling
    .then(() => (state.call === call ? work(call) : undefined))
    .catch((error: unknown) => log(`signaling (${what}) failed: ${(error as Error).message}`));
  return call.signaling;
}

function ensurePeerConnection(call: CallState): RTCPeerConnection {
  if (call.pc) return call.pc;
  // No STUN/TURN: the demo and its test run on one machine or a LAN.
  const pc = new RTCPeerConnection({ iceServers: [] });
  call.pc = pc;
  for (const track of call.localStream?.getTracks() ?? []) pc.addTrack(track, call.localStream as MediaStream);
  pc.addEventListener('icecandidate', ({ candidate }) => {
    if (!candidate || state.call !== call) return;
    const json = candidate.toJSON();
    state.socket?.emit('webrtc_ice_candidate', {
      callId: call.callId,
      targetId: call.peerId,
      candidate: {
        candidate: json.candidate ?? '',
        sdpMid: json.sdpMid ?? null,
        sdpMLineIndex: json.sdpMLineIndex ?? null,
        usernameFragment: json.usernameFragment ?? null,
      },
    });
  });
  pc.addEventListener('track', ({ track, streams }) => {
    const remote = streams[0] ?? call.remoteStream;
    if (!streams[0]) call.remoteStream.addTrack(track);
    el<HTMLVideoElement>('remote-video').srcObject = remote;
  });
  pc.addEventListener('connectionstatechange', () => {
    log(`peer connection ${pc.connectionState}`);
    if (pc.connectionState === 'connected') call.phase = 'connected';
    renderCall();
  });
  return pc;
}

async function flushCandidates(call: CallState): Promise<void> {
  const pending = call.pendingCandidates.splice(0);
  for (const candidate of pending) await call.pc?.addIceCandidate(candidate);
}

function toDescription(description: SessionDescription): RTCSessionDescriptionInit {
  return description.sdp === undefined ? { type: description.type } : { type: description.type, sdp: description.sdp };
}

function fromDescription(description: RTCSessionDescriptionInit): SessionDescription {
  if (description.type === 'rollback') throw new Error('a rollback is not sent to the other party');
  return description.sdp === undefined ? { type: description.type } : { type: description.type, sdp: description.sdp };
}

function stopStream(stream: MediaStream | null): void {
  for (const track of stream?.getTracks() ?? []) track.stop();
}

/** Tears the call down on this page (whoever ended it). */
function endLocally(callId: string, event: string, reason?: string, duration?: number): void {
  if (state.incoming?.callId === callId) {
    state.incoming = null;
    state.lastCallEnd = { callId, event, reason, duration };
    log(`${callId} stopped ringing (${event}${reason ? `: ${reason}` : ''})`);
    renderCall();
    return;
  }
  const call = state.call;
  if (!call || call.callId !== callId) return;
  call.pc?.close();
  stopStream(call.localStream);
  el<HTMLVideoElement>('local-video').srcObject = null;
  el<HTMLVideoElement>('remote-video').srcObject = null;
  state.call = null;
  state.lastCallEnd = { callId, event, reason, duration };
  const detail = [reason, duration === undefined ? '' : `${duration}s`].filter(Boolean).join(', ');
  log(`call ${callId} over: ${event}${detail ? ` (${detail})` : ''}`);
  setStatus('call-status', `call over: ${event}${detail ? ` (${detail})` : ''}`);
  setStatus('peer-status', '');
  renderCall();
}

function toggleMute(): void {
  const call = state.call;
  if (!call) return;
  call.muted = !call.muted;
  for (const track of call.localStream?.getAudioTracks() ?? []) track.enabled = !call.muted;
  state.socket?.emit('toggle_mute', { callId: call.callId, muted: call.muted });
  renderCall();
}

function toggleVideo(): void {
  const call = state.call;
  if (!call) return;
  call.videoOff = !call.videoOff;
  for (const track of call.localStream?.getVideoTracks() ?? []) track.enabled = !call.videoOff;
  state.socket?.emit('toggle_video', { callId: call.callId, videoEnabled: !call.videoOff });
  renderCall();
}

// ------------------------------------------------------------------ wiring

/** What the page exposes for the console and the end-to-end test. */
const demo = {
  state,
  get socket(): LockstepSocket | null {
    return state.socket;
  },
  get call(): CallState | null {
    return state.call;
  },
  get pc(): RTCPeerConnection | null {
    return state.call?.pc ?? null;
  },
  signIn,
  openChat,
  startCall,
  answerCall,
  hangUp,
};

declare global {
  interface Window {
    lockstepDemo: typeof demo;
  }
}
window.lockstepDemo = demo;

function on(id: string, handler: () => unknown): void {
  el(id).addEventListener('click', (event) => {
    event.preventDefault();
    void handler();
  });
}

on('sign-in', () => signIn(input('token').value, input('profileid').value));
on('refresh-chats', loadChats);
on('new-chat', createChat);
on('send', sendMessage);
on('call-video', () => startCall('video'));
on('call-voice', () => startCall('voice'));
on('answer', answerCall);
on('reject', rejectCall);
on('hang-up', hangUp);
on('mute', toggleMute);
on('toggle-video', toggleVideo);
input('message-text').addEventListener('keydown', (event) => {
  if (event.key === 'Enter') {
    event.preventDefault();
    void sendMessage();
  }
});
renderCall();

// `/demo?token=…&profileid=…` signs in straight away (the token then stays
// in the address bar and history: fine for a development token only).
const params = new URLSearchParams(location.search);
const initialToken = params.get('token');
if (initialToken) {
  input('token').value = initialToken;
  input('profileid').value = params.get('profileid') ?? '';
  signIn(initialToken, params.get('profileid') ?? undefined);
}
