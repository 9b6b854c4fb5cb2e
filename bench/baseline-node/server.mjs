// The Node.js baseline Lockstep is benchmarked against: what a team would
// otherwise write with socket.io 4.8, written the ordinary way (prepared
// statements, no caches), doing the same work per message as Lockstep:
//
// * auth: an HS256 JWT from the `accessToken` cookie or `Authorization:
//   Bearer`, with `auth.profileid` in the handshake equal to its claim; each
//   socket joins `user:<profileid>` and is greeted with `authenticated`;
// * REST: `POST /api/chats` (the subset the load generator uses), `GET /health`;
// * `send_message` (acked): chat exists, sender is a participant, 10 messages
//   a second per user, content at most 10 KB; stored idempotently on
//   (senderid, clientMessageId) in SQLite through better-sqlite3 (WAL,
//   synchronous=FULL) *before* the ack; then `new_message` to every
//   participant's user room, `message_sent` and one `message_delivered` per
//   online recipient to the sender's sockets, offline recipients queued;
// * calls, for the signaling scenario: `initiate_call` (acked), `answer_call`,
//   `webrtc_offer` / `webrtc_answer` / `webrtc_ice_candidate` relayed to the
//   other party's socket, `end_call`.
// * `sync` (acked), for the storm scenario: for each of the caller's chats,
//   the messages after the caller's position in it (`seq`), at most `limit`.
//
//   node server.mjs --port 3001 --db /tmp/baseline.db --jwt-secret SECRET

import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { parseArgs } from "node:util";

import Database from "better-sqlite3";
import { Server } from "socket.io";

const { values: args } = parseArgs({
  options: {
    port: { type: "string", default: process.env.PORT ?? "3001" },
    host: { type: "string", default: "127.0.0.1" },
    db: { type: "string", default: "baseline.db" },
    "jwt-secret": { type: "string", default: process.env.LOCKSTEP_JWT_SECRET ?? "" },
    // Node.js's own default: what an operator gets without tuning.
    backlog: { type: "string", default: "511" },
  },
});
if (!args["jwt-secret"]) {
  console.error("--jwt-secret (or LOCKSTEP_JWT_SECRET) is required");
  process.exit(2);
}
const secret = Buffer.from(args["jwt-secret"]);

const MESSAGES_PER_SECOND = 10;
const MAX_SOCKETS_PER_USER = 10;
const MAX_MESSAGE_BYTES = 10240;
const OFFLINE_QUEUE_CAP = 25;
const MESSAGE_TYPES = new Set(["text", "image", "video", "audio", "file", "location"]);

// --- storage -------------------------------------------------------------

const db = new Database(args.db);
db.pragma("journal_mode = WAL");
db.pragma("synchronous = FULL");
db.pragma("foreign_keys = ON");
db.pragma("busy_timeout = 5000");
db.exec(`
  CREATE TABLE IF NOT EXISTS chats (
    chatid TEXT PRIMARY KEY NOT NULL,
    chat_type TEXT NOT NULL,
    chat_name TEXT,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS chat_participants (
    chatid TEXT NOT NULL REFERENCES chats (chatid) ON DELETE CASCADE,
    profileid TEXT NOT NULL,
    role TEXT NOT NULL,
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (chatid, profileid)
  );
  CREATE INDEX IF NOT EXISTS chat_participants_by_profile ON chat_participants (profileid, chatid);
  CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    messageid TEXT NOT NULL UNIQUE,
    chatid TEXT NOT NULL REFERENCES chats (chatid) ON DELETE CASCADE,
    senderid TEXT NOT NULL,
    client_message_id TEXT NOT NULL,
    message_type TEXT NOT NULL,
    content TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (senderid, client_message_id)
  );
  CREATE INDEX IF NOT EXISTS messages_by_chat ON messages (chatid, seq);
  CREATE TABLE IF NOT EXISTS offline_queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    profileid TEXT NOT NULL,
    messageid TEXT NOT NULL REFERENCES messages (messageid) ON DELETE CASCADE,
    queued_at INTEGER NOT NULL,
    UNIQUE (messageid, profileid)
  );
`);

const sql = {
  insertChat: db.prepare(
    "INSERT INTO chats (chatid, chat_type, chat_name, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
  ),
  insertParticipant: db.prepare(
    "INSERT INTO chat_participants (chatid, profileid, role, joined_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
  ),
  getChat: db.prepare("SELECT chatid, chat_type, chat_name FROM chats WHERE chatid = ?"),
  getRole: db.prepare("SELECT role FROM chat_participants WHERE chatid = ? AND profileid = ?"),
  listParticipants: db.prepare(
    "SELECT profileid, role FROM chat_participants WHERE chatid = ? ORDER BY joined_at, profileid",
  ),
  insertMessage: db.prepare(
    `INSERT INTO messages (messageid, chatid, senderid, client_message_id, message_type, content, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (senderid, client_message_id) DO NOTHING
     RETURNING messageid, created_at`,
  ),
  existingMessage: db.prepare(
    "SELECT messageid, created_at FROM messages WHERE senderid = ? AND client_message_id = ?",
  ),
  enqueue: db.prepare(
    "INSERT INTO offline_queue (profileid, messageid, queued_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
  ),
  chatsOf: db.prepare("SELECT chatid FROM chat_participants WHERE profileid = ?"),
  messagesAfter: db.prepare(
    `SELECT seq, messageid, chatid, senderid, client_message_id, message_type, content, created_at
     FROM messages WHERE chatid = ? AND seq > ? ORDER BY seq LIMIT ?`,
  ),
  trim: db.prepare(
    `DELETE FROM offline_queue WHERE profileid = ? AND id NOT IN (
       SELECT id FROM offline_queue WHERE profileid = ? ORDER BY id DESC LIMIT ?)`,
  ),
};

const createChat = db.transaction((chatid, type, name, creator, members, at) => {
  sql.insertChat.run(chatid, type, name, creator, at);
  for (const member of members) {
    sql.insertParticipant.run(chatid, member, member === creator ? "owner" : "member", at);
  }
});

const enqueueOffline = db.transaction((profileids, messageid, at) => {
  for (const profileid of profileids) {
    sql.enqueue.run(profileid, messageid, at);
    sql.trim.run(profileid, profileid, OFFLINE_QUEUE_CAP);
  }
});

// --- auth ----------------------------------------------------------------

function b64url(buffer) {
  return buffer.toString("base64url");
}

/** The claims of a valid, unexpired HS256 access token, or null. */
function verify(token) {
  if (typeof token !== "string") return null;
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  let header;
  let claims;
  try {
    header = JSON.parse(Buffer.from(parts[0], "base64url"));
    claims = JSON.parse(Buffer.from(parts[1], "base64url"));
  } catch {
    return null;
  }
  if (header.alg !== "HS256") return null;
  const expected = Buffer.from(
    b64url(createHmac("sha256", secret).update(`${parts[0]}.${parts[1]}`).digest()),
  );
  const given = Buffer.from(parts[2]);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
  if (typeof claims.exp !== "number" || claims.exp * 1000 < Date.now()) return null;
  if (!claims.sub || !claims.profileid) return null;
  if (claims.typ && claims.typ !== "access") return null;
  return claims;
}

function tokenOf(headers) {
  const authorization = headers.authorization;
  if (typeof authorization === "string" && authorization.startsWith("Bearer ")) {
    return authorization.slice(7).trim();
  }
  const cookie = headers.cookie;
  if (typeof cookie === "string") {
    for (const part of cookie.split(";")) {
      const [name, ...value] = part.trim().split("=");
      if (name === "accessToken") return decodeURIComponent(value.join("="));
    }
  }
  return null;
}

// --- REST ----------------------------------------------------------------

function reply(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

function restError(res, status, code, message) {
  reply(res, status, { error: code, message });
}

const httpServer = createServer((req, res) => {
  if (req.url === "/health") return reply(res, 200, { status: "ok" });
  if (req.url?.startsWith("/socket.io")) return; // socket.io answers these
  if (req.url !== "/api/chats" || req.method !== "POST") {
    return restError(res, 404, "NOT_FOUND", "no such route");
  }
  const claims = verify(tokenOf(req.headers));
  if (!claims) return restError(res, 401, "AUTH_INVALID_TOKEN", "a valid access token is required");
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (chunk) => {
    body += chunk;
  });
  req.on("end", () => {
    let input;
    try {
      input = JSON.parse(body);
    } catch {
      return restError(res, 400, "VALIDATION_ERROR", "the body is not JSON");
    }
    const type = input.chatType;
    if (!["direct", "group", "channel"].includes(type) || !Array.isArray(input.participants)) {
      return restError(res, 400, "VALIDATION_ERROR", "chatType and participants are required");
    }
    const members = [...new Set([claims.profileid, ...input.participants.map(String)])];
    if (type === "direct" && members.length !== 2) {
      return restError(res, 400, "VALIDATION_ERROR", "a direct chat has exactly two members");
    }
    const chatid = randomUUID();
    const at = Date.now();
    const name = typeof input.chatName === "string" ? input.chatName : null;
    createChat(chatid, type, name, claims.profileid, members, at);
    reply(res, 201, {
      chatid,
      chatType: type,
      chatName: name ?? "",
      createdBy: claims.profileid,
      createdAt: new Date(at).toISOString(),
      participants: members.map((profileid) => ({
        profileid,
        role: profileid === claims.profileid ? "owner" : "member",
      })),
    });
  });
});

// --- sockets -------------------------------------------------------------

const io = new Server(httpServer, { serveClient: false });

/** Sockets per online user. */
const online = new Map();
/** Per-user token buckets for send_message: [tokens, last refill ms]. */
const buckets = new Map();
/** Live calls by id, and the call each user is in. */
const calls = new Map();
const callOfUser = new Map();

const userRoom = (profileid) => `user:${profileid}`;

function allow(profileid) {
  const now = Date.now();
  let bucket = buckets.get(profileid);
  if (!bucket) {
    bucket = [MESSAGES_PER_SECOND, now];
    buckets.set(profileid, bucket);
  }
  bucket[0] = Math.min(
    MESSAGES_PER_SECOND,
    bucket[0] + ((now - bucket[1]) * MESSAGES_PER_SECOND) / 1000,
  );
  bucket[1] = now;
  if (bucket[0] < 1) return false;
  bucket[0] -= 1;
  return true;
}

const isId = (value) => typeof value === "string" && value.length >= 1 && value.length <= 128;

io.use((socket, next) => {
  const claims = verify(tokenOf(socket.handshake.headers));
  if (!claims) return next(new Error("AUTH_INVALID_TOKEN"));
  if (socket.handshake.auth?.profileid !== claims.profileid) {
    return next(new Error("AUTH_PROFILE_MISMATCH"));
  }
  const sockets = online.get(claims.profileid) ?? 0;
  if (sockets >= MAX_SOCKETS_PER_USER) return next(new Error("TOO_MANY_CONNECTIONS"));
  socket.data.claims = claims;
  next();
});

io.on("connection", (socket) => {
  const claims = socket.data.claims;
  const me = claims.profileid;
  online.set(me, (online.get(me) ?? 0) + 1);
  socket.join(userRoom(me));
  socket.emit("authenticated", {
    user: { id: claims.sub, username: claims.username },
    profile: {
      profileid: me,
      username: claims.username,
      displayname: claims.displayname ?? claims.username,
      avatar: claims.avatar ?? "",
    },
  });

  socket.on("sync", (payload, ack) => {
    const answer = typeof ack === "function" ? ack : () => {};
    if (!payload || !Array.isArray(payload.positions)) {
      return answer({ success: false, code: "VALIDATION_ERROR", error: "the payload does not match Sync" });
    }
    const limit = Math.min(Math.max(Math.trunc(Number(payload.limit ?? 100)) || 100, 1), 500);
    const positions = new Map(payload.positions.map((p) => [p?.chatid, Number(p?.seq) || 0]));
    const chats = sql.chatsOf.all(me).map(({ chatid }) => {
      const rows = sql.messagesAfter.all(chatid, positions.get(chatid) ?? 0, limit + 1);
      return {
        chatid,
        messages: rows.slice(0, limit).map((row) => ({
          messageid: row.messageid,
          chatid: row.chatid,
          seq: row.seq,
          senderid: row.senderid,
          clientMessageId: row.client_message_id,
          messageType: row.message_type,
          content: row.content,
          attachments: [],
          mentions: [],
          timestamp: new Date(row.created_at).toISOString(),
          messageStatus: "sent",
          reactions: [],
        })),
        hasMore: rows.length > limit,
      };
    });
    answer({ success: true, chats });
  });

  socket.on("send_message", (payload, ack) => {
    const answer = typeof ack === "function" ? ack : () => {};
    const refuse = (code, error) =>
      answer({ success: false, clientMessageId: payload?.clientMessageId, code, error });
    if (
      !payload ||
      !isId(payload.chatid) ||
      !isId(payload.clientMessageId) ||
      !MESSAGE_TYPES.has(payload.messageType) ||
      typeof payload.content !== "string"
    ) {
      return refuse("VALIDATION_ERROR", "the payload does not match SendMessage");
    }
    const chat = sql.getChat.get(payload.chatid);
    if (!chat) return refuse("CHAT_NOT_FOUND", "no such chat");
    if (!sql.getRole.get(payload.chatid, me)) {
      return refuse("NOT_PARTICIPANT", "you are not a participant of this chat");
    }
    if (!allow(me)) {
      socket.emit("rate_limited", { event: "send_message", retryAfter: 1 });
      return refuse("RATE_LIMITED", "too many messages");
    }
    if (Buffer.byteLength(payload.content) > MAX_MESSAGE_BYTES) {
      return refuse("CONTENT_TOO_LARGE", "content is larger than 10 KB");
    }
    const participants = sql.listParticipants.all(payload.chatid);
    const createdAt = Date.now();
    let stored;
    try {
      stored = sql.insertMessage.get(
        randomUUID(),
        payload.chatid,
        me,
        payload.clientMessageId,
        payload.messageType,
        payload.content,
        createdAt,
      );
    } catch (error) {
      console.error("insert failed", error.message);
      return refuse("STORAGE_UNAVAILABLE", "the message could not be stored");
    }
    if (!stored) {
      // A retry: the first attempt stored and fanned out this message.
      const existing = sql.existingMessage.get(me, payload.clientMessageId);
      return answer({
        success: true,
        clientMessageId: payload.clientMessageId,
        serverMessageId: existing.messageid,
        timestamp: new Date(existing.created_at).toISOString(),
      });
    }
    const timestamp = new Date(stored.created_at).toISOString();
    const recipients = participants.map((p) => p.profileid).filter((p) => p !== me);
    const live = recipients.filter((p) => online.has(p));
    const away = recipients.filter((p) => !online.has(p));
    socket.to(participants.map((p) => userRoom(p.profileid))).emit("new_message", {
      message: {
        messageid: stored.messageid,
        chatid: payload.chatid,
        senderid: me,
        clientMessageId: payload.clientMessageId,
        messageType: payload.messageType,
        content: payload.content,
        attachments: [],
        mentions: [],
        timestamp,
        messageStatus: "sent",
        reactions: [],
      },
      chat: { chatid: chat.chatid, chatName: chat.chat_name ?? "", chatType: chat.chat_type },
      sender: {
        profileid: me,
        username: claims.username,
        displayname: claims.displayname ?? claims.username,
        avatar: claims.avatar ?? "",
      },
    });
    if (away.length > 0) enqueueOffline(away, stored.messageid, createdAt);
    const senderRoom = io.to(userRoom(me));
    senderRoom.emit("message_sent", {
      clientMessageId: payload.clientMessageId,
      serverMessageId: stored.messageid,
      chatid: payload.chatid,
      timestamp,
      status: "sent",
      deliveredTo: live,
    });
    const deliveredAt = new Date().toISOString();
    for (const recipient of live) {
      io.to(userRoom(me)).emit("message_delivered", {
        messageid: stored.messageid,
        clientMessageId: payload.clientMessageId,
        chatid: payload.chatid,
        deliveredTo: recipient,
        deliveredAt,
      });
    }
    answer({
      success: true,
      clientMessageId: payload.clientMessageId,
      serverMessageId: stored.messageid,
      timestamp,
    });
  });

  // --- calls ---

  const callError = (event, code, message) => socket.emit("error", { error: code, event, message });

  socket.on("initiate_call", (payload, ack) => {
    const answer = typeof ack === "function" ? ack : () => {};
    const target = payload?.targetId;
    if (!isId(target) || target === me) {
      return answer({ success: false, code: "INVALID_TARGET", error: "invalid target" });
    }
    const shared =
      isId(payload.chatid) &&
      sql.getRole.get(payload.chatid, me) &&
      sql.getRole.get(payload.chatid, target);
    if (!shared) {
      return answer({ success: false, code: "NO_SHARED_CHAT", error: "no shared chat" });
    }
    if (!online.has(target)) {
      return answer({ success: false, code: "RECEIVER_OFFLINE", error: "the receiver is offline" });
    }
    if (callOfUser.has(me)) return answer({ success: false, code: "CALLER_BUSY", error: "busy" });
    if (callOfUser.has(target)) {
      return answer({ success: false, code: "RECEIVER_BUSY", error: "the receiver is busy" });
    }
    const call = {
      callId: randomUUID(),
      caller: me,
      callee: target,
      callerSocket: socket.id,
      calleeSocket: null,
      type: payload.callType === "video" ? "video" : "voice",
      answeredAt: null,
    };
    calls.set(call.callId, call);
    callOfUser.set(me, call.callId);
    callOfUser.set(target, call.callId);
    const timestamp = new Date().toISOString();
    io.to(userRoom(target)).emit("incoming_call", {
      callId: call.callId,
      callerId: me,
      callerName: claims.displayname ?? claims.username,
      callerAvatar: claims.avatar ?? "",
      callType: call.type,
      chatid: payload.chatid,
      timestamp,
    });
    answer({
      success: true,
      callId: call.callId,
      callerId: me,
      receiverId: target,
      callType: call.type,
      timestamp,
    });
  });

  const partyCall = (event, callId) => {
    const call = calls.get(callId);
    if (!call) return callError(event, "CALL_NOT_FOUND", "no such call, or it has ended");
    if (call.caller !== me && call.callee !== me) {
      return callError(event, "NOT_CALL_PARTY", "you are not a party of this call");
    }
    return call;
  };

  socket.on("answer_call", (payload) => {
    const call = partyCall("answer_call", payload?.callId);
    if (!call) return;
    if (call.callee !== me || call.answeredAt) {
      return callError("answer_call", "INVALID_CALL_STATE", "cannot answer this call");
    }
    call.calleeSocket = socket.id;
    call.answeredAt = Date.now();
    io.to([userRoom(call.caller), userRoom(call.callee)]).emit("call_answered", {
      callId: call.callId,
      answeredBy: me,
      acceptedVideo: Boolean(payload.acceptsVideo) && call.type === "video",
      timestamp: new Date(call.answeredAt).toISOString(),
    });
  });

  const relay = (event, received, field) => {
    socket.on(event, (payload) => {
      const call = partyCall(event, payload?.callId);
      if (!call) return;
      const other = call.caller === me ? call.callee : call.caller;
      if (payload.targetId !== other) {
        return callError(event, "INVALID_TARGET", "the target is not the other party");
      }
      const otherSocket = call.caller === me ? call.calleeSocket : call.callerSocket;
      io.to(otherSocket ?? userRoom(other)).emit(received, {
        callId: call.callId,
        fromId: me,
        [field]: payload[field],
      });
    });
  };
  relay("webrtc_offer", "webrtc_offer_received", "offer");
  relay("webrtc_answer", "webrtc_answer_received", "answer");
  relay("webrtc_ice_candidate", "webrtc_ice_candidate_received", "candidate");

  const finish = (call, by, reason) => {
    calls.delete(call.callId);
    callOfUser.delete(call.caller);
    callOfUser.delete(call.callee);
    const at = Date.now();
    io.to([userRoom(call.caller), userRoom(call.callee)]).emit("call_ended", {
      callId: call.callId,
      endedBy: by,
      reason,
      duration: call.answeredAt ? Math.floor((at - call.answeredAt) / 1000) : undefined,
      timestamp: new Date(at).toISOString(),
    });
  };

  socket.on("end_call", (payload) => {
    const call = partyCall("end_call", payload?.callId);
    if (call) finish(call, me, "user_ended");
  });

  socket.on("disconnect", () => {
    const callId = callOfUser.get(me);
    const call = callId && calls.get(callId);
    if (call && (call.callerSocket === socket.id || call.calleeSocket === socket.id)) {
      finish(call, me, "participant_disconnected");
    }
    const left = (online.get(me) ?? 1) - 1;
    if (left > 0) online.set(me, left);
    else online.delete(me);
  });
});

httpServer.listen({ port: Number(args.port), host: args.host, backlog: Number(args.backlog) }, () => {
  console.log(`baseline listening on ${args.host}:${args.port} (backlog ${args.backlog}), database ${args.db}`);
});

const stop = () => {
  io.close();
  db.close();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
