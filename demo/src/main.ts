// The Lockstep demo page: the showcase of @lockstep/client. Chats named
// after the people in them, typing indicators, delivered and read ticks,
// online dots, reactions, sign-in errors in words, and a WebRTC call whose
// offer, answer and ICE candidates the server relays. Plain DOM, no
// framework.
//
// Everything on the wire goes through @lockstep/client: one typed method
// per client event, typed listeners for server events, messages handed
// over exactly once in `seq` order (live, offline queue and catch-up after
// a reconnect alike), the heartbeat answered. Payload types come from the
// generated contract (`@lockstep/contract` = generated/ts), so this file
// stops compiling when the contract changes under it.
//
// Built into dist/ by `node demo/build.mjs`; the server serves it at
// /demo/main.js, and the import map in index.html resolves
// `@lockstep/client` and `socket.io-client` to the copies in dist/.
import { createClient, type ClientStatus, type LockstepClient } from '@lockstep/client';
import type {
  CallEndReason,
  CallType,
  ChatDetails,
  ChatList,
  ChatListEntry,
  IncomingCall,
  Message,
  RestError,
  SessionDescription,
} from '@lockstep/contract';

import { callEndWords, clock, wordsFor } from './words.js';

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
  connectedAt: number | null;
}

/** A message shown in a chat: stored (with `seq`) or still being sent. */
interface ShownMessage {
  message: Message;
  /** Sent by this page and not acknowledged yet, or refused. */
  sending?: 'pending' | 'failed';
}

/** Delivery and read receipts of one of the user's messages. */
interface Receipts {
  deliveredTo: Set<string>;
  readBy: Set<string>;
}

type Presence = 'online' | 'offline' | 'unknown';

interface State {
  profileid: string | null;
  displayname: string | null;
  /** The `?as=` name when signed in through a development-mode link. */
  demoUser: string | null;
  /** The access token, kept for REST (sent as a bearer token) and the socket's cookie. */
  token: string | null;
  client: LockstepClient | null;
  status: ClientStatus | null;
  authenticated: boolean;
  chats: ChatListEntry[];
  openChatId: string | null;
  /** Per chat, by `seq` (messages being sent last). */
  messages: Map<string, ShownMessage[]>;
  /** Per chat, the people seen in it besides the user (senders, typers, joiners, reactors). */
  members: Map<string, Set<string>>;
  /** Display names learnt from what the server sends (`new_message.sender`, typing, joins, calls, reactions). */
  names: Map<string, string>;
  presence: Map<string, Presence>;
  /** Per chat, who is typing now (with the timer that forgets them). */
  typing: Map<string, Map<string, ReturnType<typeof setTimeout>>>;
  receipts: Map<string, Receipts>;
  /** Messages of others this page marked read (each once). */
  markedRead: Set<string>;
  unread: Map<string, number>;
  /** `chatid\nprofileid` of the people this connection announced itself to (see `user_joined_chat`). */
  greeted: Set<string>;
  call: CallState | null;
  incoming: IncomingCall | null;
  /** The last call outcome, for the page and tests. */
  lastCallEnd: { callId: string; event: string; reason?: string; duration?: number } | null;
  /** Everything that happened, newest last (also shown on the page). */
  log: string[];
}

const state: State = {
  profileid: null,
  displayname: null,
  demoUser: null,
  token: null,
  client: null,
  status: null,
  authenticated: false,
  chats: [],
  openChatId: null,
  messages: new Map(),
  members: new Map(),
  names: new Map(),
  presence: new Map(),
  typing: new Map(),
  receipts: new Map(),
  markedRead: new Set(),
  unread: new Map(),
  greeted: new Set(),
  call: null,
  incoming: null,
  lastCallEnd: null,
  log: [],
};

/** How long the page keeps sending "typing" after the last keystroke. */
const TYPING_IDLE_MS = 3_000;
/** Forget someone's typing if the server's stop never arrives. */
const TYPING_FORGET_MS = 12_000;
const QUICK_REACTIONS = ['👍', '❤️', '😂'];
/** Where a tab keeps its sign-in (per tab: two tabs can be two people). */
const SESSION_KEY = 'lockstep-demo-session';
/** Display names learnt earlier, so a reload starts with them. */
const NAMES_KEY = 'lockstep-demo-names';

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

function setText(id: string, text: string): void {
  el(id).textContent = text;
}

function make<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { className?: string; text?: string; title?: string } = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.className) node.className = props.className;
  if (props.text !== undefined) node.textContent = props.text;
  if (props.title) node.title = props.title;
  node.append(...children);
  return node;
}

function log(line: string): void {
  const stamped = `${new Date().toISOString().slice(11, 23)} ${line}`;
  state.log.push(stamped);
  if (state.log.length > 500) state.log.splice(0, state.log.length - 500);
  const list = el('log');
  list.prepend(make('li', { text: stamped }));
  while (list.childElementCount > 200) list.lastElementChild?.remove();
}

// ------------------------------------------------------------------ people

/** A person's name as the page shows it: their display name once known. */
function nameOf(profileid: string): string {
  if (profileid === state.profileid) return state.displayname ?? 'You';
  return state.names.get(profileid) ?? profileid;
}

function learnName(profileid: string, name: string | undefined): void {
  if (!name || profileid === state.profileid || state.names.get(profileid) === name) return;
  state.names.set(profileid, name);
  try {
    localStorage.setItem(NAMES_KEY, JSON.stringify([...state.names]));
  } catch {
    // storage full or disabled: names are learnt again
  }
  renderAll();
}

function loadNames(): void {
  try {
    const saved: unknown = JSON.parse(localStorage.getItem(NAMES_KEY) ?? '[]');
    if (Array.isArray(saved)) {
      for (const entry of saved) {
        if (Array.isArray(entry) && typeof entry[0] === 'string' && typeof entry[1] === 'string') state.names.set(entry[0], entry[1]);
      }
    }
  } catch {
    // nothing saved
  }
}

function learnMember(chatid: string, profileid: string): void {
  if (profileid === state.profileid) return;
  const members = state.members.get(chatid) ?? new Set<string>();
  if (members.has(profileid)) return;
  members.add(profileid);
  state.members.set(chatid, members);
  renderAll();
}

function setPresence(profileid: string, presence: Presence): void {
  if (profileid === state.profileid || state.presence.get(profileid) === presence) return;
  state.presence.set(profileid, presence);
  renderAll();
}

function presenceOf(profileid: string): Presence {
  return state.presence.get(profileid) ?? 'unknown';
}

/** The people in a chat besides the user, as far as the page knows them. */
function others(chatid: string): string[] {
  return [...(state.members.get(chatid) ?? [])];
}

/** A chat's title: its name, else the names of the people in it. */
function chatTitle(chat: ChatListEntry | undefined, chatid: string): string {
  if (chat?.chatName) return chat.chatName;
  const people = others(chatid).map(nameOf);
  if (people.length) return people.join(', ');
  if (chat?.chatType === 'direct') return 'Direct chat';
  return `Group of ${chat?.participantCount ?? '?'}`;
}

/** The person on the other side of a direct chat, once known. */
function peerOf(chatid: string): string | undefined {
  const chat = state.chats.find((c) => c.chatid === chatid);
  if (chat && chat.chatType !== 'direct') return undefined;
  return others(chatid)[0];
}

function initial(text: string): string {
  return (text.trim()[0] ?? '?').toUpperCase();
}

function dot(presence: Presence, who: string): HTMLSpanElement {
  const span = make('span', { className: 'dot', title: `${who}: ${presenceWords(presence)}` });
  span.dataset.presence = presence;
  return span;
}

function presenceWords(presence: Presence): string {
  return presence === 'online' ? 'online' : presence === 'offline' ? 'offline' : 'not seen yet';
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

function authStatus(text: string, kind: 'info' | 'error' = 'info'): void {
  const status = el('auth-status');
  status.textContent = text;
  status.dataset.kind = kind;
}

/**
 * Signs in with `token`. `demoUser` is set when the token came from the
 * development-mode link `/demo?as=NAME`: a refusal then offers that link
 * again (a development server makes a new secret at every start, so its
 * old tokens stop working).
 */
function signIn(token: string, profileid?: string, demoUser?: string): void {
  token = token.trim();
  const who = profileid?.trim() || profileidOfToken(token);
  if (!token || !who) {
    authStatus('Paste a token (from `lockstep token …`), and the profile id if the token has none.', 'error');
    return;
  }
  const previous = state.client;
  state.client = null;
  previous?.close();
  // The socket's handshake carries the token in this cookie. Cookies are
  // shared by every tab of a browser profile, so it is set again before
  // each reconnection (another tab may have signed in as someone else),
  // and REST calls send the token as a bearer token instead.
  const setCookie = () => {
    document.cookie = `accessToken=${token}; path=/; SameSite=Strict`;
  };
  setCookie();
  sessionStorage.setItem(SESSION_KEY, JSON.stringify({ token, profileid: who, demoUser }));
  state.demoUser = demoUser ?? null;
  state.token = token;
  state.profileid = who;
  state.authenticated = false;
  authStatus(`Connecting as ${who}…`);

  const client = createClient({
    url: location.origin,
    profileid: who,
    io: { transports: ['websocket'], withCredentials: true },
  });
  client.socket.io.on('reconnect_attempt', setCookie);
  state.client = client;
  listen(client);
}

function signOut(reason: string): void {
  const client = state.client;
  // Detached first: the closing client's last status is not this page's.
  state.client = null;
  client?.close();
  state.authenticated = false;
  sessionStorage.removeItem(SESSION_KEY);
  show('signed-in', false);
  show('auth', true);
  authStatus(reason, 'error');
  const again = el<HTMLAnchorElement>('auth-again');
  again.hidden = !state.demoUser;
  if (state.demoUser) {
    again.href = `/demo?as=${encodeURIComponent(state.demoUser)}`;
    again.textContent = `Sign in as ${state.demoUser} again`;
  }
}

function renderConnection(status: ClientStatus): void {
  const box = el('connection');
  box.dataset.state = status.state;
  const words: Record<ClientStatus['state'], string> = {
    connecting: 'connecting…',
    connected: 'connected',
    disconnected: 'offline, reconnecting…',
    refused: 'signed out',
  };
  setText('connection-text', words[status.state]);
}

function listen(client: LockstepClient): void {
  let wasConnected = false;
  client.onStatus((status) => {
    if (client !== state.client) return;
    state.status = status;
    renderConnection(status);
    log(`status ${status.state}${status.code ? ` ${status.code}` : ''}${status.error ? `: ${status.error}` : ''}`);
    if (status.state === 'connected') {
      wasConnected = true;
      state.authenticated = true;
      state.greeted.clear();
      show('auth', false);
      show('signed-in', true);
      void loadChats();
      if (state.openChatId) client.joinChat({ chatid: state.openChatId });
    } else {
      state.authenticated = false;
    }
    if (status.state === 'refused') {
      const why = wordsFor(status.code, status.error ?? 'the server refused the sign-in');
      signOut(`${wasConnected ? 'Signed out' : 'Cannot sign in'}: ${why}.`);
      renderConnection(status);
    }
    if (status.state === 'disconnected' && !wasConnected) {
      authStatus(`Cannot reach the server${status.error ? ` (${status.error})` : ''}; trying again…`, 'error');
    }
    if (status.state === 'disconnected' && state.call) endLocally(state.call.callId, 'disconnected', 'the connection dropped');
  });
  client.onViolation(({ event, path, message }) => log(`contract violation in ${event}${path ? ` at ${path}` : ''}: ${message}`));

  client.on('authenticated', ({ profile }) => {
    state.displayname = profile.displayname || profile.username;
    setText('me', state.displayname);
    setText('local-label', `You (${state.displayname})`);
    log(`signed in as ${profile.profileid}`);
  });

  client.on('error', ({ error, message, event }) => log(`error ${error}${event ? ` (${event})` : ''}: ${message}`));
  client.on('chat_error', ({ error, message }) => log(`chat_error ${error}: ${message}`));
  client.on('rate_limited', ({ event, retryAfter }) => log(`rate limited${event ? ` (${event})` : ''}: retry in ${retryAfter}s`));

  // Messages: each exactly once, in seq order, whichever way it came.
  client.onMessage(addMessage);
  client.on('new_message', ({ message, sender, chat, isOfflineDelivery }) => {
    learnName(sender.profileid, sender.displayname || sender.username);
    learnMember(message.chatid, sender.profileid);
    // Sent live: the sender is online now.
    if (!isOfflineDelivery) setPresence(sender.profileid, 'online');
    stopTyping(message.chatid, sender.profileid);
    if (!state.chats.some((c) => c.chatid === chat.chatid)) void loadChats();
  });
  client.on('message_delivered', ({ messageid, deliveredTo }) => {
    receiptsOf(messageid).deliveredTo.add(deliveredTo);
    renderMessagesOf(chatOfMessage(messageid));
  });
  client.on('message_read', ({ messageid, readBy }) => {
    const receipts = receiptsOf(messageid);
    receipts.readBy.add(readBy);
    receipts.deliveredTo.add(readBy);
    renderMessagesOf(chatOfMessage(messageid));
  });
  client.on('message_reaction_added', ({ messageid, chatid, reaction }) => {
    learnName(reaction.profileid, reaction.username);
    learnMember(chatid, reaction.profileid);
    const shown = (state.messages.get(chatid) ?? []).find((m) => m.message.messageid === messageid);
    if (shown && !shown.message.reactions.some((r) => r.emoji === reaction.emoji && r.profileid === reaction.profileid)) {
      shown.message.reactions.push({ emoji: reaction.emoji, profileid: reaction.profileid, timestamp: reaction.timestamp });
      renderMessagesOf(chatid);
    }
  });

  // Typing.
  client.on('user_typing', ({ chatid, profileid, username }) => {
    if (!state.names.has(profileid)) learnName(profileid, username);
    learnMember(chatid, profileid);
    setPresence(profileid, 'online');
    startTyping(chatid, profileid);
  });
  client.on('user_stopped_typing', ({ chatid, profileid }) => stopTyping(chatid, profileid));

  // Presence.
  client.on('user_status_changed', ({ profileid, isOnline }) => {
    setPresence(profileid, isOnline ? 'online' : 'offline');
    log(`${nameOf(profileid)} is ${isOnline ? 'online' : 'offline'}`);
  });
  client.on('user_joined_chat', ({ chatid, profileid, username, isOnline }) => {
    if (!state.names.has(profileid)) learnName(profileid, username);
    learnMember(chatid, profileid);
    setPresence(profileid, isOnline ? 'online' : 'offline');
    // Hello back: joining again announces this user to the newcomer, who
    // otherwise could not know who is here (the contract has no "who is in
    // this chat"). Once per person per chat and connection, so it ends.
    const key = `${chatid}\n${profileid}`;
    if (chatid === state.openChatId && !state.greeted.has(key)) {
      state.greeted.add(key);
      client.joinChat({ chatid });
    }
  });

  // Calls.
  client.on('incoming_call', onIncomingCall);
  client.on('call_answered', ({ callId, answeredBy }) => void onCallAnswered(callId, answeredBy));
  client.on('call_rejected', ({ callId, rejectedBy }) => endLocally(callId, 'call_rejected', 'rejected', undefined, rejectedBy));
  client.on('call_missed', ({ callId }) => endLocally(callId, 'call_missed', 'no answer'));
  client.on('call_ended', ({ callId, reason, duration, endedBy }) => endLocally(callId, 'call_ended', reason, duration, endedBy));

  client.on('webrtc_offer_received', ({ callId, offer }) =>
    signal(callId, 'offer', async (call) => {
      const pc = ensurePeerConnection(call);
      await pc.setRemoteDescription(toDescription(offer));
      await flushCandidates(call);
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      client.webrtcAnswer({ callId, targetId: call.peerId, answer: fromDescription(answer) });
    }),
  );
  client.on('webrtc_answer_received', ({ callId, answer }) =>
    signal(callId, 'answer', async (call) => {
      const pc = ensurePeerConnection(call);
      await pc.setRemoteDescription(toDescription(answer));
      await flushCandidates(call);
    }),
  );
  client.on('webrtc_ice_candidate_received', ({ callId, candidate }) =>
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

  client.on('participant_muted', ({ profileid, muted }) =>
    setText('peer-status', `${nameOf(profileid)} ${muted ? 'muted' : 'unmuted'} their microphone`),
  );
  client.on('participant_video_toggled', ({ profileid, videoEnabled }) =>
    setText('peer-status', `${nameOf(profileid)} turned their camera ${videoEnabled ? 'on' : 'off'}`),
  );
  client.on('participant_screen_share_toggled', ({ profileid, screenSharing }) =>
    setText('peer-status', `${nameOf(profileid)} ${screenSharing ? 'is sharing' : 'stopped sharing'} their screen`),
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
  const json: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const refusal = json as RestError | null;
    throw new Error(wordsFor(refusal?.error, `the server answered ${response.status}`));
  }
  return json as T;
}

async function loadChats(): Promise<void> {
  try {
    const { chats } = await rest<ChatList>('GET', '/api/chats');
    state.chats = chats;
    setText('chats-status', chats.length ? '' : 'No chats yet: start one below.');
    renderChats();
    // Who is in each chat and what they are called, so titles are names
    // from the start (`GET /api/chats/{chatid}`).
    void Promise.all(chats.map((chat) => loadMembers(chat.chatid)));
    // Open the first chat straight away: the page is useful at once.
    const first = chats[0];
    if (!state.openChatId && first) openChat(first.chatid);
  } catch (error) {
    setText('chats-status', `Cannot load your chats: ${(error as Error).message}.`);
  }
}

/** Learns a chat's participants and their names from the server. */
async function loadMembers(chatid: string): Promise<void> {
  try {
    const chat = await rest<ChatDetails>('GET', `/api/chats/${encodeURIComponent(chatid)}`);
    learnParticipants(chat);
  } catch (error) {
    log(`could not load the people of a chat: ${(error as Error).message}`);
  }
}

function learnParticipants(chat: ChatDetails): void {
  for (const p of chat.participants) {
    learnName(p.profileid, p.displayname || p.username);
    learnMember(chat.chatid, p.profileid);
  }
}

function renderChats(): void {
  el('chats').replaceChildren(
    ...state.chats.map((chat) => {
      const title = chatTitle(chat, chat.chatid);
      const button = make('button', { className: chat.chatid === state.openChatId ? 'open' : '' });
      button.type = 'button';
      button.dataset.chatid = chat.chatid;
      const avatar = make('span', { className: 'avatar', text: initial(title) });
      const peer = peerOf(chat.chatid);
      if (peer) avatar.append(dot(presenceOf(peer), nameOf(peer)));
      const typers = typingIn(chat.chatid);
      const last = (state.messages.get(chat.chatid) ?? []).at(-1)?.message;
      const preview = typers.length
        ? make('span', { className: 'chat-preview typing', text: typingWords(typers) })
        : make('span', {
            className: 'chat-preview',
            text: last ? `${last.senderid === state.profileid ? 'You: ' : ''}${last.content}` : chatKind(chat),
          });
      const text = make('span', { className: 'chat-text' }, make('span', { className: 'chat-name', text: title }), preview);
      button.append(avatar, text);
      const unread = state.unread.get(chat.chatid) ?? 0;
      if (unread) button.append(make('span', { className: 'badge', text: String(unread), title: `${unread} unread` }));
      button.addEventListener('click', () => openChat(chat.chatid));
      return make('li', {}, button);
    }),
  );
}

function chatKind(chat: ChatListEntry): string {
  return chat.chatType === 'direct' ? 'direct chat' : `${chat.chatType} · ${chat.participantCount} people`;
}

async function createChat(): Promise<void> {
  const participants = input('new-chat-participants')
    .value.split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const chatType = el<HTMLSelectElement>('new-chat-type').value === 'group' ? 'group' : 'direct';
  const chatName = input('new-chat-name').value.trim();
  if (!participants.length) {
    setText('chats-status', 'Enter the profile id of the people to chat with.');
    return;
  }
  try {
    const chat = await rest<ChatDetails>('POST', '/api/chats', {
      chatType,
      participants,
      ...(chatType === 'group' && chatName ? { chatName } : {}),
    });
    learnParticipants(chat);
    await loadChats();
    openChat(chat.chatid);
  } catch (error) {
    setText('chats-status', `Cannot create the chat: ${(error as Error).message}.`);
  }
}

function openChat(chatid: string): void {
  if (state.openChatId && state.openChatId !== chatid) stopOwnTyping();
  state.openChatId = chatid;
  state.unread.delete(chatid);
  show('no-chat', false);
  show('chat', true);
  // Room events (typing, joins) flow once the socket is in the chat's room.
  state.client?.joinChat({ chatid });
  const peer = peerOf(chatid);
  if (peer) input('call-target').value = peer;
  renderAll();
  markVisibleRead();
}

function addMessage(message: Message): void {
  const list = state.messages.get(message.chatid) ?? [];
  // Replaces this page's own pending copy (same clientMessageId).
  const pending = list.findIndex(
    (m) => m.sending && message.clientMessageId && m.message.clientMessageId === message.clientMessageId,
  );
  if (pending >= 0) list.splice(pending, 1);
  if (list.some((m) => m.message.messageid === message.messageid)) return;
  const stored = list.filter((m) => !m.sending);
  const waiting = list.filter((m) => m.sending);
  stored.push({ message });
  stored.sort((a, b) => a.message.seq - b.message.seq);
  state.messages.set(message.chatid, [...stored, ...waiting]);
  if (message.senderid !== state.profileid) {
    learnMember(message.chatid, message.senderid);
    if (message.messageStatus === 'read') state.markedRead.add(message.messageid);
    if (message.chatid !== state.openChatId && !state.markedRead.has(message.messageid)) {
      state.unread.set(message.chatid, (state.unread.get(message.chatid) ?? 0) + 1);
    }
  } else if (message.messageStatus !== 'sent') {
    // History carries how far the message got before this page saw it.
    const receipts = receiptsOf(message.messageid);
    receipts.deliveredTo.add('*');
    if (message.messageStatus === 'read') receipts.readBy.add('*');
  }
  if (!state.chats.some((c) => c.chatid === message.chatid)) void loadChats();
  renderChats();
  renderMessagesOf(message.chatid);
  markVisibleRead();
}

function receiptsOf(messageid: string): Receipts {
  let receipts = state.receipts.get(messageid);
  if (!receipts) {
    receipts = { deliveredTo: new Set(), readBy: new Set() };
    state.receipts.set(messageid, receipts);
  }
  return receipts;
}

function chatOfMessage(messageid: string): string | undefined {
  for (const [chatid, list] of state.messages) if (list.some((m) => m.message.messageid === messageid)) return chatid;
  return undefined;
}

/** Tells the senders that the user saw their messages in the open chat. */
function markVisibleRead(): void {
  const chatid = state.openChatId;
  const client = state.client;
  if (!chatid || !client || document.visibilityState !== 'visible' || !state.authenticated) return;
  for (const { message, sending } of state.messages.get(chatid) ?? []) {
    if (sending || message.senderid === state.profileid || state.markedRead.has(message.messageid)) continue;
    state.markedRead.add(message.messageid);
    client.markMessageRead({ messageid: message.messageid, chatid });
  }
}

/** ✓ stored, ✓✓ delivered, blue ✓✓ read; a clock while sending. */
function ticks(shown: ShownMessage): HTMLSpanElement {
  const span = make('span', { className: 'ticks' });
  let status: string;
  if (shown.sending === 'pending') {
    status = 'sending';
    span.textContent = '🕓';
    span.title = 'sending…';
  } else if (shown.sending === 'failed') {
    status = 'failed';
    span.textContent = 'not sent';
  } else {
    const receipts = state.receipts.get(shown.message.messageid);
    if (receipts?.readBy.size) {
      status = 'read';
      span.textContent = '✓✓';
      span.title = `read${readers(receipts.readBy)}`;
    } else if (receipts?.deliveredTo.size) {
      status = 'delivered';
      span.textContent = '✓✓';
      span.title = `delivered${readers(receipts.deliveredTo)}`;
    } else {
      status = 'sent';
      span.textContent = '✓';
      span.title = 'sent: stored by the server';
    }
  }
  span.dataset.status = status;
  span.setAttribute('aria-label', span.title || status);
  return span;
}

function readers(who: Set<string>): string {
  const named = [...who].filter((p) => p !== '*').map(nameOf);
  return named.length ? ` by ${named.join(', ')}` : '';
}

function renderMessagesOf(chatid: string | undefined): void {
  if (chatid && chatid === state.openChatId) renderMessages();
}

function renderMessages(): void {
  const list = el('messages');
  const chatid = state.openChatId;
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const shown = chatid ? state.messages.get(chatid) ?? [] : [];
  list.replaceChildren(
    ...shown.map((entry) => {
      const m = entry.message;
      const mine = m.senderid === state.profileid;
      const item = make('li', { className: mine ? 'message mine' : 'message' });
      if (!entry.sending) item.dataset.messageid = m.messageid;
      item.dataset.seq = String(m.seq);
      const time = new Date(m.timestamp).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
      const meta = make('span', { className: 'meta' });
      if (!entry.sending) meta.append(reactBar(m));
      meta.append(make('time', { text: time }));
      if (mine) meta.append(ticks(entry));
      item.append(make('span', { className: 'sender', text: nameOf(m.senderid) }), make('span', { className: 'content', text: m.content }));
      if (m.reactions.length) item.append(reactionChips(m));
      item.append(meta);
      return item;
    }),
  );
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function reactBar(message: Message): HTMLSpanElement {
  const bar = make('span', { className: 'react-bar' });
  for (const emoji of QUICK_REACTIONS) {
    const button = make('button', { text: emoji, title: `react with ${emoji}` });
    button.type = 'button';
    button.dataset.react = emoji;
    button.addEventListener('click', () => state.client?.reactToMessage({ messageid: message.messageid, chatid: message.chatid, emoji }));
    bar.append(button);
  }
  return bar;
}

function reactionChips(message: Message): HTMLDivElement {
  const byEmoji = new Map<string, string[]>();
  for (const r of message.reactions) byEmoji.set(r.emoji, [...(byEmoji.get(r.emoji) ?? []), nameOf(r.profileid)]);
  const chips = make('div', { className: 'reactions' });
  for (const [emoji, people] of byEmoji) {
    const chip = make('span', { className: 'reaction', text: `${emoji} ${people.length}`, title: people.join(', ') });
    chip.dataset.emoji = emoji;
    chips.append(chip);
  }
  return chips;
}

function renderChatHead(): void {
  const chatid = state.openChatId;
  if (!chatid) return;
  const chat = state.chats.find((c) => c.chatid === chatid);
  const title = chatTitle(chat, chatid);
  setText('chat-title', title);
  const avatar = el('chat-avatar');
  avatar.replaceChildren(initial(title));
  const peer = peerOf(chatid);
  if (peer) {
    avatar.append(dot(presenceOf(peer), nameOf(peer)));
    setText('chat-presence', presenceWords(presenceOf(peer)));
    if (!input('call-target').value) input('call-target').value = peer;
  } else {
    const people = others(chatid);
    const online = people.filter((p) => presenceOf(p) === 'online').map(nameOf);
    setText('chat-presence', online.length ? `${online.join(', ')} online` : chat ? chatKind(chat) : '');
  }
  const typers = typingIn(chatid);
  setText('typing', typers.length ? typingWords(typers) : '');
}

function renderAll(): void {
  renderChats();
  renderChatHead();
  renderMessages();
  renderCall();
}

async function sendMessage(): Promise<void> {
  const client = state.client;
  const chatid = state.openChatId;
  const box = input('message-text');
  const content = box.value;
  if (!client || !chatid || !content.trim()) return;
  box.value = '';
  stopOwnTyping();
  setText('send-status', '');
  // Shown at once; replaced by the stored message when the client hands it over.
  const clientMessageId = crypto.randomUUID();
  const shown: ShownMessage = {
    sending: 'pending',
    message: {
      messageid: `pending-${clientMessageId}`,
      chatid,
      seq: Number.MAX_SAFE_INTEGER,
      senderid: state.profileid ?? '',
      clientMessageId,
      messageType: 'text',
      content,
      attachments: [],
      mentions: [],
      reactions: [],
      timestamp: new Date().toISOString(),
      messageStatus: 'sent',
    },
  };
  state.messages.set(chatid, [...(state.messages.get(chatid) ?? []), shown]);
  renderMessages();
  // Retried with the same clientMessageId until the server acks it (stored once).
  const ack = await client.sendMessage({ chatid, clientMessageId, messageType: 'text', content });
  if (!ack.success) {
    shown.sending = 'failed';
    setText('send-status', `Not sent: ${wordsFor(ack.code, ack.error)}.`);
    log(`message refused: ${ack.code}: ${ack.error}`);
    renderMessagesOf(chatid);
  }
}

// ------------------------------------------------------------------ typing

function typingIn(chatid: string): string[] {
  return [...(state.typing.get(chatid)?.keys() ?? [])];
}

function typingWords(typers: string[]): string {
  const names = typers.map(nameOf);
  if (names.length === 1) return `${names[0]} is typing…`;
  return `${names.slice(0, -1).join(', ')} and ${names.at(-1)} are typing…`;
}

function startTyping(chatid: string, profileid: string): void {
  const chat = state.typing.get(chatid) ?? new Map<string, ReturnType<typeof setTimeout>>();
  clearTimeout(chat.get(profileid));
  chat.set(profileid, setTimeout(() => stopTyping(chatid, profileid), TYPING_FORGET_MS));
  state.typing.set(chatid, chat);
  renderChats();
  renderChatHead();
}

function stopTyping(chatid: string, profileid: string): void {
  const chat = state.typing.get(chatid);
  if (!chat?.has(profileid)) return;
  clearTimeout(chat.get(profileid));
  chat.delete(profileid);
  renderChats();
  renderChatHead();
}

/** The user's own typing: started on a keystroke, stopped when idle, on send, or on leaving the chat. */
const ownTyping: { chatid: string | null; idle?: ReturnType<typeof setTimeout> } = { chatid: null };

function onComposerInput(): void {
  const chatid = state.openChatId;
  if (!chatid || !state.client) return;
  if (!input('message-text').value) {
    stopOwnTyping();
    return;
  }
  if (ownTyping.chatid !== chatid) {
    stopOwnTyping();
    ownTyping.chatid = chatid;
    state.client.typingStart({ chatid });
  }
  clearTimeout(ownTyping.idle);
  ownTyping.idle = setTimeout(stopOwnTyping, TYPING_IDLE_MS);
}

function stopOwnTyping(): void {
  clearTimeout(ownTyping.idle);
  if (ownTyping.chatid) state.client?.typingStop({ chatid: ownTyping.chatid });
  ownTyping.chatid = null;
}

// ------------------------------------------------------------------ calls

/** The call in plain words, for the call panel. */
function renderCall(): void {
  const call = state.call;
  const incoming = state.incoming;
  show('incoming', incoming !== null && call === null);
  if (incoming && !call) {
    setText('incoming-text', `${nameOf(incoming.callerId)} is calling you (${incoming.callType === 'video' ? 'video' : 'voice'} call)`);
  }
  show('in-call', call !== null);
  const canCall = call === null && state.openChatId !== null;
  el<HTMLButtonElement>('call-video').disabled = !canCall;
  el<HTMLButtonElement>('call-voice').disabled = !canCall;
  if (call) {
    const peer = nameOf(call.peerId);
    const kind = call.callType === 'video' ? 'video call' : 'voice call';
    let words: string;
    if (call.phase === 'ringing') words = `Calling ${peer}… (ringing)`;
    else if (call.phase === 'connecting') words = `Connecting the ${kind} with ${peer}…`;
    else words = `In a ${kind} with ${peer} · ${clock(((performance.now() - (call.connectedAt ?? performance.now())) / 1000))}`;
    setText('call-status', words);
    setText('remote-label', peer);
    el('mute').textContent = call.muted ? 'Unmute' : 'Mute';
    el('toggle-video').textContent = call.videoOff ? 'Camera on' : 'Camera off';
  } else if (incoming) {
    setText('call-status', `${nameOf(incoming.callerId)} is calling…`);
  }
  document.body.dataset.call = call ? call.phase : incoming ? 'incoming' : 'idle';
}

setInterval(() => {
  if (state.call?.phase === 'connected') renderCall();
}, 1_000);

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
    connectedAt: null,
  };
}

async function startCall(callType: CallType): Promise<void> {
  const client = state.client;
  const targetId = input('call-target').value.trim() || (state.openChatId ? peerOf(state.openChatId) : undefined);
  if (!client || state.call) return;
  if (!targetId) {
    setText('call-status', 'Whom to call? Wait until the other person wrote, or enter their profile id below.');
    return;
  }
  setText('call-status', `Starting the camera and microphone to call ${nameOf(targetId)}…`);
  let stream: MediaStream;
  try {
    stream = await media(callType);
  } catch (error) {
    setText('call-status', `No camera or microphone: ${(error as Error).message}.`);
    return;
  }
  const ack = await client.initiateCall({
    targetId,
    callType,
    ...(state.openChatId ? { chatid: state.openChatId } : {}),
  });
  if (!ack.success) {
    stopStream(stream);
    el<HTMLVideoElement>('local-video').srcObject = null;
    setText('call-status', `Cannot call ${nameOf(targetId)}: ${wordsFor(ack.code, ack.error)}.`);
    log(`initiate_call refused: ${ack.code}`);
    return;
  }
  state.call = newCall(ack.callId, targetId, 'caller', callType, stream);
  setText('peer-status', '');
  log(`calling ${targetId} (${ack.callId})`);
  renderCall();
}

function onIncomingCall(incoming: IncomingCall): void {
  learnName(incoming.callerId, incoming.callerName);
  log(`incoming ${incoming.callType} call ${incoming.callId} from ${incoming.callerId}`);
  if (state.call) return; // busy here; the server refuses calls to busy users anyway
  state.incoming = incoming;
  setText('peer-status', '');
  renderCall();
}

async function answerCall(): Promise<void> {
  const incoming = state.incoming;
  const client = state.client;
  if (!incoming || !client || state.call) return;
  let stream: MediaStream;
  try {
    stream = await media(incoming.callType);
  } catch (error) {
    setText('call-status', `No camera or microphone: ${(error as Error).message}.`);
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
  client.answerCall({ callId: call.callId, acceptsVideo: incoming.callType === 'video' });
  log(`answered ${call.callId}`);
  renderCall();
}

function rejectCall(): void {
  const incoming = state.incoming;
  if (!incoming) return;
  state.client?.rejectCall({ callId: incoming.callId });
  state.incoming = null;
  state.lastCallEnd = { callId: incoming.callId, event: 'reject' };
  setText('call-status', callEndWords('rejected', nameOf(incoming.callerId), true));
  renderCall();
}

function hangUp(): void {
  const call = state.call;
  if (!call) return;
  if (call.role === 'caller' && call.phase === 'ringing') state.client?.callCancelled({ callId: call.callId });
  else state.client?.endCall({ callId: call.callId, reason: 'user_ended' });
  endLocally(call.callId, 'hang_up', undefined, undefined, state.profileid ?? undefined);
}

async function onCallAnswered(callId: string, answeredBy: string): Promise<void> {
  if (state.incoming?.callId === callId) {
    // Answered on another of this user's devices: stop ringing here.
    log(`${callId} was answered on another device`);
    state.incoming = null;
    setText('call-status', 'Answered on another of your devices.');
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
    state.client?.webrtcOffer({ callId, targetId: current.peerId, offer: fromDescription(offer) });
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
    state.client?.webrtcIceCandidate({
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
    if (pc.connectionState === 'connected' && call.phase !== 'connected') {
      call.phase = 'connected';
      call.connectedAt = performance.now();
    }
    if (pc.connectionState === 'failed') setText('peer-status', 'The media connection failed (no route between the two browsers).');
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

/** Tears the call down on this page (whoever ended it) and says how it ended. */
function endLocally(callId: string, event: string, reason?: string, duration?: number, endedBy?: string): void {
  const endedByMe = endedBy === state.profileid;
  if (state.incoming?.callId === callId) {
    const caller = nameOf(state.incoming.callerId);
    state.incoming = null;
    state.lastCallEnd = { callId, event, reason, duration };
    log(`${callId} stopped ringing (${event}${reason ? `: ${reason}` : ''})`);
    setText('call-status', event === 'call_missed' ? `You missed a call from ${caller}.` : isReason(reason) ? callEndWords(reason, caller, endedByMe, duration) : `${caller}'s call stopped ringing.`);
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
  const peer = nameOf(call.peerId);
  let words: string;
  if (event === 'call_missed') words = `${peer} did not answer.`;
  else if (event === 'hang_up') words = call.phase === 'ringing' ? `You cancelled the call to ${peer}.` : `You hung up on ${peer}.`;
  else if (event === 'disconnected') words = `The call with ${peer} ended: ${reason ?? 'the connection dropped'}.`;
  else if (isReason(reason)) words = `${callEndWords(reason, peer, endedByMe, duration)}.`;
  else words = `The call with ${peer} ended.`;
  log(`call ${callId} over: ${event}${reason ? ` (${reason}${duration === undefined ? '' : `, ${duration}s`})` : ''}`);
  setText('call-status', words);
  setText('peer-status', '');
  renderCall();
}

function isReason(reason: string | undefined): reason is CallEndReason {
  return (
    reason === 'user_ended' ||
    reason === 'timeout' ||
    reason === 'network_issue' ||
    reason === 'participant_disconnected' ||
    reason === 'cancelled' ||
    reason === 'rejected'
  );
}

function toggleMute(): void {
  const call = state.call;
  if (!call) return;
  call.muted = !call.muted;
  for (const track of call.localStream?.getAudioTracks() ?? []) track.enabled = !call.muted;
  state.client?.toggleMute({ callId: call.callId, muted: call.muted });
  renderCall();
}

function toggleVideo(): void {
  const call = state.call;
  if (!call) return;
  call.videoOff = !call.videoOff;
  for (const track of call.localStream?.getVideoTracks() ?? []) track.enabled = !call.videoOff;
  state.client?.toggleVideo({ callId: call.callId, videoEnabled: !call.videoOff });
  renderCall();
}

// ------------------------------------------------------------------ wiring

/** What the page exposes for the console and the end-to-end tests. */
const demo = {
  state,
  get client(): LockstepClient | null {
    return state.client;
  },
  get socket(): LockstepClient['socket'] | null {
    return state.client?.socket ?? null;
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
on('call-video', () => startCall('video'));
on('call-voice', () => startCall('voice'));
on('answer', answerCall);
on('reject', rejectCall);
on('hang-up', hangUp);
on('mute', toggleMute);
on('toggle-video', toggleVideo);
el('composer').addEventListener('submit', (event) => {
  event.preventDefault();
  void sendMessage();
});
input('message-text').addEventListener('input', onComposerInput);
document.addEventListener('visibilitychange', markVisibleRead);
loadNames();
renderCall();

/**
 * Where the sign-in comes from, first match wins: the fragment the
 * development-mode shortcut (`/demo?as=alice`) redirects to, the query
 * (`/demo?token=…&profileid=…`; the token then stays in the history: fine
 * for a development token only), or this tab's earlier sign-in.
 */
function initialSignIn(): { token: string; profileid?: string; demoUser?: string } | null {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const fromFragment = fragment.get('token');
  if (fromFragment) {
    // Out of the address bar and the history.
    history.replaceState(null, '', location.pathname);
    return { token: fromFragment, profileid: fragment.get('profileid') ?? undefined, demoUser: fragment.get('as') ?? undefined };
  }
  const query = new URLSearchParams(location.search);
  const fromQuery = query.get('token');
  if (fromQuery) return { token: fromQuery, profileid: query.get('profileid') ?? undefined };
  try {
    const saved: unknown = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null');
    if (saved && typeof saved === 'object' && 'token' in saved && typeof saved.token === 'string') {
      const profileid = 'profileid' in saved && typeof saved.profileid === 'string' ? saved.profileid : undefined;
      const demoUser = 'demoUser' in saved && typeof saved.demoUser === 'string' ? saved.demoUser : undefined;
      return { token: saved.token, profileid, demoUser };
    }
  } catch {
    // nothing saved
  }
  return null;
}

const startup = initialSignIn();
if (startup) {
  input('token').value = startup.token;
  input('profileid').value = startup.profileid ?? '';
  signIn(startup.token, startup.profileid, startup.demoUser);
}
