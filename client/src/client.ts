// The hand-written core of @lockstep/client: the connection, acks with
// timeouts, retried sends, the heartbeat, catch-up after reconnects and
// payload validation. Everything the contract defines (event names, the
// method per client event, payload types and validators) comes from the
// generated modules beside it (generated/client, copied into dist/).
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import type {
  ClientToServerEvents,
  ErrorCode,
  HandshakeAuth,
  Heartbeat,
  Message,
  SendMessage,
  SendMessageAck,
  ServerToClientEvents,
  SyncAck,
} from '@lockstep/contract';

import { CLIENT_METHODS, CONTRACT_VERSION, EVENTS, type AckResult, type LocalFailure, type LockstepMethods, type MethodSpec } from './methods.js';
import { MessageSequencer } from './messages.js';
import { ACKS, SERVER_EVENTS, type Validator, type Violation } from './validators.js';

export { CONTRACT_VERSION };

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** The server's origin, e.g. `https://chat.example.com`. */
  url: string;
  /** The profile the token belongs to (sent in the handshake `auth`). */
  profileid: string;
  /**
   * Node and React Native: the access token, sent as `Authorization: Bearer`. Browsers leave it out
   * and authenticate with the `accessToken` cookie (the client connects `withCredentials`).
   */
  token?: string;
  /** Check every incoming payload and ack against the contract and report {@link ContractViolation}s (default true). */
  validate?: boolean;
  /** How long an acked method waits for its ack, in milliseconds (default 10 000). */
  ackTimeoutMs?: number;
  /** Connect at once (default true); otherwise call `connect()`. */
  autoConnect?: boolean;
  /**
   * Where the application already stands per chat (chatid → the highest seq it holds every message up
   * to), e.g. from its own storage; catch-up starts there. Chats left out start at 0 (their whole history).
   */
  positions?: Record<string, number>;
  /** Messages per chat per `sync` page during catch-up (default: the server's, 100). */
  syncLimit?: number;
  /**
   * How many attempts of an idempotent send (`sendMessage`) may time out on a live connection before its
   * promise resolves `TIMEOUT` (default 5). Attempts cut short by a disconnect do not count: they are
   * repeated after the reconnect.
   */
  sendAttempts?: number;
  /**
   * Passed to socket.io-client's `io()`. `auth` fields are added to the handshake `auth` the client
   * builds (`profileid`, `timestamp`, `contractVersion`), and win over them.
   */
  io?: Partial<ManagerOptions & SocketOptions>;
}

/** The connection as the application sees it. */
export interface ClientStatus {
  /**
   * `connecting`: (re)connecting; `connected`: authenticated, events flow; `disconnected`: the connection
   * dropped (socket.io-client reconnects) or the client was closed; `refused`: the server refused this
   * client (`auth_error`: `code` says why, e.g. `AUTH_TOKEN_EXPIRED` or `CONTRACT_INCOMPATIBLE`; or the
   * session expired) and it does not reconnect by itself.
   */
  state: 'connecting' | 'connected' | 'disconnected' | 'refused';
  code?: ErrorCode;
  error?: string;
}

/** An incoming payload (or ack: `ack: true`) that does not match the contract. */
export interface ContractViolation {
  /** The server event, or for an ack the client event it answers. */
  event: string;
  /** A JSON Pointer into the payload ('' for the payload itself). */
  path: string;
  message: string;
  /** Set when the violation is in the ack of a client event. */
  ack?: boolean;
}

/** A server event name of the contract. */
export type ServerEvent = keyof ServerToClientEvents;

/** What every client has besides its contract methods. */
export interface LockstepCore {
  /** Listens to a server event (names as in the contract); returns a function that stops listening. */
  on<E extends ServerEvent>(event: E, listener: ServerToClientEvents[E]): () => void;
  off<E extends ServerEvent>(event: E, listener: ServerToClientEvents[E]): void;
  /** Every chat message exactly once, in seq order per chat (live, offline queue, sync, own sends). */
  onMessage(listener: (message: Message) => void): () => void;
  /** Incoming payloads that break the contract (only while validation is on). */
  onViolation(listener: (violation: ContractViolation) => void): () => void;
  /** Connection state changes. */
  onStatus(listener: (status: ClientStatus) => void): () => void;
  /** The current connection state. */
  readonly status: ClientStatus;
  /** The highest seq up to which every message of the chat was handed to `onMessage`. */
  lastSeq(chatid: string): number | undefined;
  /** Connects (after `autoConnect: false`, or after a refusal with a renewed token cookie). */
  connect(): void;
  /** Disconnects for good: pending acked calls resolve `DISCONNECTED`. */
  close(): void;
  /** The underlying socket.io-client socket. */
  readonly socket: Socket<ServerToClientEvents, ClientToServerEvents>;
}

/** A connected Lockstep client: the core plus one method per client event of the contract. */
export type LockstepClient = LockstepCore & LockstepMethods;

/** One acked call in progress. */
interface Call {
  spec: MethodSpec;
  payload: unknown;
  resolve: (result: unknown) => void;
  settled: boolean;
  /** Emitted on the current connection and waiting for its ack. */
  inFlight: boolean;
  /** Attempts that timed out on a live connection (idempotent sends). */
  timedOut: number;
  timer?: ReturnType<typeof setTimeout>;
}

const DEFAULT_ACK_TIMEOUT_MS = 10_000;
const DEFAULT_SEND_ATTEMPTS = 5;
/** Catch-up pages per reconnect at most (each `sync` answers up to `limit` messages per chat). */
const MAX_SYNC_PAGES = 1_000;
/** How long a gap in a chat may wait for a late live message before the client asks `sync`. */
const GAP_DELAY_MS = 250;

type AnySocket = Socket<Record<string, (...args: any[]) => void>, Record<string, (...args: any[]) => void>>;

function randomId(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return `c-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

function localFailure(code: LocalFailure['code'], error: string): LocalFailure {
  return { success: false, code, error };
}

class Client implements LockstepCore {
  readonly socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  status: ClientStatus;

  private readonly raw: AnySocket;
  private readonly profileid: string;
  private readonly validate: boolean;
  private readonly ackTimeoutMs: number;
  private readonly sendAttempts: number;
  private readonly syncLimit: number | undefined;
  private readonly sequencer: MessageSequencer;
  private readonly messageListeners = new Set<(message: Message) => void>();
  private readonly violationListeners = new Set<(violation: ContractViolation) => void>();
  private readonly statusListeners = new Set<(status: ClientStatus) => void>();
  /** Acked calls waiting to be emitted or answered (not idempotent sends). */
  private readonly calls = new Set<Call>();
  /** Idempotent sends, in call order; only the first is in flight. */
  private readonly sends: Call[] = [];
  /** Authenticated on the current connection. */
  private ready = false;
  private closed = false;
  private syncing = false;
  private syncAgain = false;
  private gapTimer?: ReturnType<typeof setTimeout>;

  constructor(options: ClientOptions) {
    this.profileid = options.profileid;
    this.validate = options.validate ?? true;
    this.ackTimeoutMs = options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
    this.sendAttempts = Math.max(1, options.sendAttempts ?? DEFAULT_SEND_ATTEMPTS);
    this.syncLimit = options.syncLimit;
    this.sequencer = new MessageSequencer(
      (message) => this.emitTo(this.messageListeners, message),
      () => this.scheduleGapSync(),
      options.positions,
    );
    const { auth: extraAuth, extraHeaders, ...ioOptions } = options.io ?? {};
    const autoConnect = options.autoConnect ?? true;
    this.status = { state: autoConnect ? 'connecting' : 'disconnected' };
    this.raw = io(options.url, {
      withCredentials: true,
      // Its own connection: socket.io-client would otherwise share one
      // between clients of the same URL, with the first one's credentials.
      forceNew: true,
      ...ioOptions,
      autoConnect,
      // A function: every (re)connect states a fresh timestamp.
      auth: (done: (auth: object) => void) => {
        const auth: HandshakeAuth = {
          profileid: options.profileid,
          timestamp: Date.now(),
          contractVersion: CONTRACT_VERSION,
        };
        done({ ...auth, ...(typeof extraAuth === 'object' ? extraAuth : {}) });
      },
      extraHeaders: options.token ? { ...extraHeaders, Authorization: `Bearer ${options.token}` } : extraHeaders,
    }) as unknown as AnySocket;
    this.socket = this.raw as unknown as Socket<ServerToClientEvents, ClientToServerEvents>;
    this.listen();
  }

  // ------------------------------------------------------------ listeners

  on<E extends ServerEvent>(event: E, listener: ServerToClientEvents[E]): () => void {
    this.raw.on(event as string, listener as (...args: any[]) => void);
    return () => this.off(event, listener);
  }

  off<E extends ServerEvent>(event: E, listener: ServerToClientEvents[E]): void {
    this.raw.off(event as string, listener as (...args: any[]) => void);
  }

  onMessage(listener: (message: Message) => void): () => void {
    return this.subscribe(this.messageListeners, listener);
  }

  onViolation(listener: (violation: ContractViolation) => void): () => void {
    return this.subscribe(this.violationListeners, listener);
  }

  onStatus(listener: (status: ClientStatus) => void): () => void {
    return this.subscribe(this.statusListeners, listener);
  }

  lastSeq(chatid: string): number | undefined {
    return this.sequencer.position(chatid);
  }

  connect(): void {
    if (this.closed || this.raw.connected) return;
    this.setStatus({ state: 'connecting' });
    this.raw.connect();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ready = false;
    clearTimeout(this.gapTimer);
    for (const call of [...this.calls, ...this.sends]) {
      this.settle(call, localFailure('DISCONNECTED', 'the client was closed before the server answered'));
    }
    this.sends.length = 0;
    this.raw.close();
    this.setStatus({ state: 'disconnected', error: 'closed by the application' });
  }

  private subscribe<T>(set: Set<(value: T) => void>, listener: (value: T) => void): () => void {
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  /** Calls every listener; one that throws does not stop the others nor the client. */
  private emitTo<T>(set: Set<(value: T) => void>, value: T): void {
    for (const listener of [...set]) {
      try {
        listener(value);
      } catch (error) {
        console.error('@lockstep/client: a listener threw', error);
      }
    }
  }

  private setStatus(status: ClientStatus): void {
    this.status = status;
    this.emitTo(this.statusListeners, status);
  }

  // ------------------------------------------------------------ the connection

  private listen(): void {
    const socket = this.raw;
    // Any-listeners run before the event's own listeners: a violation is
    // reported before the application sees the payload.
    socket.onAny((event: string, ...args: unknown[]) => this.check(event, args));
    socket.on(EVENTS.AUTHENTICATED, () => {
      this.ready = true;
      this.setStatus({ state: 'connected' });
      for (const call of this.calls) if (!call.inFlight) this.emitCall(call);
      this.pumpSends();
      void this.catchUp();
    });
    socket.on(EVENTS.AUTH_ERROR, (refusal: { error?: ErrorCode; message?: string }) =>
      this.refused({ state: 'refused', code: refusal?.error, error: refusal?.message }),
    );
    socket.on(EVENTS.AUTH_REQUIRED, () =>
      this.refused({ state: 'refused', code: 'AUTH_TOKEN_EXPIRED', error: 'the session expired: sign in again' }),
    );
    // The contract's heartbeat: answered here, so a quiet application is never dropped.
    socket.on(EVENTS.HEARTBEAT, (heartbeat: Heartbeat) => {
      this.socket.emit(EVENTS.HEARTBEAT_RESPONSE, {
        timestamp: heartbeat?.timestamp,
        clientTime: new Date().toISOString(),
      });
    });
    socket.on(EVENTS.PING, (timestamp: number) => this.socket.emit(EVENTS.PONG, timestamp));
    socket.on(EVENTS.NEW_MESSAGE, (news: { message?: Message }) => {
      if (news?.message) this.sequencer.accept(news.message);
    });
    socket.on('disconnect', (reason: string) => {
      this.ready = false;
      for (const call of [...this.calls]) {
        if (call.inFlight) this.settle(call, localFailure('DISCONNECTED', `the connection dropped before the server answered (${reason})`));
      }
      const head = this.sends[0];
      if (head) {
        // Lost with the connection: repeated after the reconnect, not counted.
        head.inFlight = false;
        clearTimeout(head.timer);
      }
      if (this.closed || this.status.state === 'refused') return;
      this.setStatus({ state: 'disconnected', error: reason });
      // socket.io-client does not reconnect after a server-side disconnect
      // (a restart, a dropped heartbeat); a refusal stops above.
      if (reason === 'io server disconnect') {
        setTimeout(() => {
          if (!this.closed && !this.raw.connected && this.status.state !== 'refused') this.connect();
        }, 1_000);
      }
    });
    socket.on('connect_error', (error: Error) => {
      if (this.closed || this.status.state === 'refused') return;
      this.setStatus({ state: 'disconnected', error: error.message });
    });
    socket.io.on('reconnect_attempt', () => {
      if (!this.closed && this.status.state !== 'refused') this.setStatus({ state: 'connecting' });
    });
  }

  /** The server refused this client: nothing pending can be answered until the application reconnects. */
  private refused(status: ClientStatus): void {
    this.ready = false;
    this.setStatus(status);
    const why = `the server refused the connection: ${status.code ?? 'refused'}${status.error ? `: ${status.error}` : ''}`;
    for (const call of [...this.calls, ...this.sends]) this.settle(call, localFailure('DISCONNECTED', why));
  }

  /** Validates an incoming event against the contract, reporting each violation. */
  private check(event: string, args: unknown[]): void {
    if (!this.validate) return;
    if (!Object.prototype.hasOwnProperty.call(SERVER_EVENTS, event)) {
      this.report({ event, path: '', message: 'is not a server event of the contract' });
      return;
    }
    const validator = SERVER_EVENTS[event as keyof typeof SERVER_EVENTS] as Validator | null;
    if (validator === null) {
      if (args.length > 0) this.report({ event, path: '', message: 'carries no payload in the contract' });
      return;
    }
    const found: Violation[] = [];
    validator(args[0], '', found);
    for (const violation of found) this.report({ event, ...violation });
  }

  private report(violation: ContractViolation): void {
    this.emitTo(this.violationListeners, violation);
  }

  // ------------------------------------------------------------ calls

  /** A fire-and-forget event: emitted now, or buffered by socket.io-client until connected. */
  fire(spec: MethodSpec, payload: unknown): void {
    this.raw.emit(spec.event, payload);
  }

  /** An acked event: resolves to the ack or a local failure, never rejects. */
  request(spec: MethodSpec, payload: unknown): Promise<unknown> {
    return new Promise((resolve) => {
      if (this.closed || this.status.state === 'refused') {
        resolve(localFailure('DISCONNECTED', this.closed ? 'the client is closed' : 'the server refused the connection'));
        return;
      }
      const call: Call = { spec, payload, resolve, settled: false, inFlight: false, timedOut: 0 };
      if (spec.idKey) {
        const body = { ...(payload as Record<string, unknown>) };
        if (typeof body[spec.idKey] !== 'string') body[spec.idKey] = randomId();
        call.payload = body;
        this.sends.push(call);
        this.pumpSends();
        return;
      }
      this.calls.add(call);
      // The timeout runs from the call, also while (re)connecting.
      call.timer = setTimeout(
        () => this.settle(call, localFailure('TIMEOUT', `no answer to \`${spec.event}\` within ${this.ackTimeoutMs} ms`)),
        this.ackTimeoutMs,
      );
      if (this.ready) this.emitCall(call);
    });
  }

  private emitCall(call: Call): void {
    call.inFlight = true;
    this.raw.emit(call.spec.event, call.payload, (ack: unknown) => this.answered(call, ack));
  }

  /** Emits the first idempotent send (again, with the same id) when nothing is in flight. */
  private pumpSends(): void {
    const call = this.sends[0];
    if (!call || call.inFlight || !this.ready) return;
    call.inFlight = true;
    // Any attempt's ack settles the call, also one that comes after its attempt timed out.
    this.raw.emit(call.spec.event, call.payload, (ack: unknown) => this.answered(call, ack));
    call.timer = setTimeout(() => {
      call.inFlight = false;
      call.timedOut += 1;
      if (call.timedOut >= this.sendAttempts) {
        this.settle(
          call,
          localFailure('TIMEOUT', `no answer to \`${call.spec.event}\` after ${call.timedOut} attempts of ${this.ackTimeoutMs} ms`),
        );
      } else {
        this.pumpSends();
      }
    }, this.ackTimeoutMs);
  }

  private answered(call: Call, ack: unknown): void {
    if (call.settled) return;
    const refusal = ack as { success?: boolean; code?: ErrorCode; retryAfter?: number } | null;
    if (call.spec.idKey && refusal?.success === false && refusal.code === 'RATE_LIMITED' && this.sends[0] === call) {
      // Back-pressure, not a verdict on the message: wait and send the same
      // id again, so the messages after it keep their order.
      clearTimeout(call.timer);
      call.timer = setTimeout(
        () => {
          call.inFlight = false;
          this.pumpSends();
        },
        Math.max(20, Math.ceil((refusal.retryAfter ?? 0.1) * 1000)),
      );
      return;
    }
    if (this.validate) {
      const validator = (ACKS as Record<string, Validator>)[call.spec.event];
      const found: Violation[] = [];
      validator?.(ack, '', found);
      for (const violation of found) this.report({ event: call.spec.event, ack: true, ...violation });
    }
    if (call.spec.event === EVENTS.SEND_MESSAGE) this.sentMessage(call.payload as SendMessage, ack as SendMessageAck);
    if (call.spec.event === EVENTS.SYNC) this.synced(ack as SyncAck);
    this.settle(call, ack);
  }

  private settle(call: Call, result: unknown): void {
    if (call.settled) return;
    call.settled = true;
    call.inFlight = false;
    clearTimeout(call.timer);
    this.calls.delete(call);
    const index = this.sends.indexOf(call);
    if (index >= 0) this.sends.splice(index, 1);
    call.resolve(result);
    if (index === 0) this.pumpSends();
  }

  // ------------------------------------------------------------ messages

  /** The sending socket gets the ack, not `new_message`: the stored message is built from both. */
  private sentMessage(payload: SendMessage, ack: SendMessageAck): void {
    if (ack?.success !== true) return;
    this.sequencer.accept({
      messageid: ack.serverMessageId,
      chatid: payload.chatid,
      seq: ack.seq,
      senderid: this.profileid,
      clientMessageId: payload.clientMessageId,
      messageType: payload.messageType,
      content: payload.content,
      attachments: payload.attachments ?? [],
      mentions: payload.mentions ?? [],
      timestamp: ack.timestamp,
      messageStatus: 'sent',
      reactions: [],
    });
  }

  private synced(ack: SyncAck): void {
    if (ack?.success !== true || !Array.isArray(ack.chats)) return;
    for (const chat of ack.chats) for (const message of chat?.messages ?? []) this.sequencer.accept(message);
  }

  private scheduleGapSync(): void {
    if (this.gapTimer || this.closed) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = undefined;
      if (this.sequencer.hasGaps()) void this.catchUp();
    }, GAP_DELAY_MS);
  }

  /**
   * One whole `sync` is refused when one chat of it is not the user's any more (removed, deleted, or a
   * stale `positions` entry). Asks for each chat alone (at most one message each, so the probe costs
   * little: chats left out of a `sync` count as 0) and forgets those refused. Returns how many.
   */
  private async forgetLostChats(spec: MethodSpec): Promise<number> {
    let forgotten = 0;
    for (const position of this.sequencer.positions()) {
      for (let attempt = 0; attempt < 20 && this.ready; attempt += 1) {
        const ack = (await this.request(spec, { positions: [position], limit: 1 })) as AckResult<SyncAck>;
        if (!ack.success && ack.code === 'RATE_LIMITED') {
          await new Promise((done) => setTimeout(done, Math.max(100, (ack.retryAfter ?? 0.2) * 1000)));
          continue;
        }
        if (!ack.success && (ack.code === 'NOT_PARTICIPANT' || ack.code === 'CHAT_NOT_FOUND')) {
          this.sequencer.forget(position.chatid);
          forgotten += 1;
        }
        break;
      }
    }
    return forgotten;
  }

  /**
   * `sync` from every chat's position, page after page while a chat `hasMore`; run after every
   * (re)connect and when a gap shows. Every page lists every known chat: a chat left out counts as 0.
   */
  private async catchUp(): Promise<void> {
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    this.syncing = true;
    const spec = CLIENT_METHODS.find((m) => m.event === EVENTS.SYNC);
    try {
      for (let page = 0; spec && page < MAX_SYNC_PAGES && this.ready && !this.closed; page += 1) {
        this.syncAgain = false;
        const payload = { positions: this.sequencer.positions(), ...(this.syncLimit ? { limit: this.syncLimit } : {}) };
        const ack = (await this.request(spec, payload)) as AckResult<SyncAck>;
        if (ack.success) {
          if (!ack.chats.some((chat) => chat.hasMore) && !this.syncAgain) break;
        } else if (ack.code === 'RATE_LIMITED') {
          await new Promise((done) => setTimeout(done, Math.max(100, (ack.retryAfter ?? 0.2) * 1000)));
        } else if (ack.code === 'DISCONNECTED' || ack.code === 'TIMEOUT') {
          // Tried again after the next reconnect.
          break;
        } else if ((ack.code === 'NOT_PARTICIPANT' || ack.code === 'CHAT_NOT_FOUND') && (await this.forgetLostChats(spec)) > 0) {
          // A chat the client tracked is no longer the user's; the rest catch up.
        } else {
          this.report({ event: EVENTS.SYNC, ack: true, path: '', message: `catch-up refused: ${ack.code}: ${ack.error}` });
          break;
        }
      }
    } finally {
      this.syncing = false;
    }
  }
}

/**
 * Connects to a Lockstep server.
 *
 * @example
 * ```ts
 * const client = createClient({ url: 'https://chat.example.com', profileid: 'p-alice' });
 * client.onMessage((message) => render(message));
 * const ack = await client.sendMessage({ chatid, messageType: 'text', content: 'hi' });
 * if (!ack.success) console.warn(ack.code, ack.error);
 * ```
 */
export function createClient(options: ClientOptions): LockstepClient {
  const client = new Client(options);
  const methods: Record<string, (payload: unknown) => unknown> = {};
  for (const spec of CLIENT_METHODS) {
    methods[spec.method] = spec.acked ? (payload) => client.request(spec, payload) : (payload) => client.fire(spec, payload);
  }
  return Object.assign(client, methods) as unknown as LockstepClient;
}
