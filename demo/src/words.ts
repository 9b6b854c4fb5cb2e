// What the page says instead of a code: every error code of the contract,
// every way a call ends, in plain words. The records are exhaustive over the
// contract's unions, so a code added to the contract stops this file from
// compiling until it has words.
import type { CallEndReason, ErrorCode } from '@lockstep/contract';

/** Why the server refused, in words a person can act on. */
export const ERROR_WORDS: Record<ErrorCode, string> = {
  // Signing in (`auth_error`).
  AUTH_MISSING_TOKEN: 'no token reached the server: sign in again',
  AUTH_INVALID_TOKEN:
    'the server does not accept this token (signed with another secret, or the server restarted in development mode): get a new one',
  AUTH_TOKEN_EXPIRED: 'your token expired: get a new one and sign in again',
  AUTH_PROFILE_MISMATCH: 'the profile id does not belong to this token',
  AUTH_HANDSHAKE_INVALID: 'the sign-in request was malformed: reload the page',
  TOO_MANY_CONNECTIONS: 'you are signed in on too many tabs or devices: close one and try again',
  CONTRACT_INCOMPATIBLE: 'this page was built for another version of the server: reload it',
  // Everything else.
  VALIDATION_ERROR: 'the server could not read that request',
  UNKNOWN_EVENT: 'the server does not know that request',
  ROUTE_NOT_FOUND: 'that address does not exist on the server',
  METHOD_NOT_ALLOWED: 'the server does not allow that request here',
  UNSUPPORTED_MEDIA_TYPE: 'the server expected JSON',
  PAYLOAD_TOO_LARGE: 'that is too large to send',
  RATE_LIMITED: 'slow down a little: too many requests at once',
  LIMIT_EXCEEDED: 'that is over a limit of the server',
  CHAT_NOT_FOUND: 'that chat does not exist',
  NOT_PARTICIPANT: 'you are not in that chat',
  FORBIDDEN: 'your role in this chat does not allow that',
  MESSAGE_NOT_FOUND: 'that message does not exist',
  CONTENT_TOO_LARGE: 'the message is too long',
  INVALID_REPLY: 'the message replied to is not in this chat',
  INVALID_MENTION: 'someone mentioned is not in this chat',
  CALL_NOT_FOUND: 'that call is over',
  NOT_CALL_PARTY: 'you are not in that call',
  INVALID_CALL_STATE: 'the call is not in a state that allows that',
  INVALID_TARGET: 'you cannot call that person',
  NO_SHARED_CHAT: 'you can only call people you share a chat with',
  RECEIVER_OFFLINE: 'they are offline right now',
  CALLER_BUSY: 'you are already in a call',
  RECEIVER_BUSY: 'they are in another call',
  STORAGE_UNAVAILABLE: 'the server cannot reach its database right now: try again shortly',
  SERVICE_UNAVAILABLE: 'the server is busy right now: try again shortly',
  INTERNAL_ERROR: 'something went wrong on the server',
};

/** The failures @lockstep/client reports without the server. */
const LOCAL_WORDS: Record<string, string> = {
  TIMEOUT: 'the server did not answer in time',
  DISCONNECTED: 'the connection dropped before the server answered',
};

/** Words for any code: the contract's, the client's own, or an unknown one. */
export function wordsFor(code: string | undefined, fallback = 'something went wrong'): string {
  if (!code) return fallback;
  if (Object.prototype.hasOwnProperty.call(ERROR_WORDS, code)) return ERROR_WORDS[code as ErrorCode];
  return LOCAL_WORDS[code] ?? `${fallback} (${code})`;
}

/** How a call ended, from the point of view of the page's user. */
export function callEndWords(reason: CallEndReason, peer: string, endedByMe: boolean, duration?: number): string {
  const after = duration === undefined ? '' : ` after ${clock(duration)}`;
  const words: Record<CallEndReason, string> = {
    user_ended: endedByMe ? `You ended the call with ${peer}${after}` : `${peer} ended the call${after}`,
    timeout: `The call with ${peer} reached the time limit${after}`,
    network_issue: `The call with ${peer} dropped: network trouble${after}`,
    participant_disconnected: `${endedByMe ? 'You' : peer} lost the connection${after}`,
    cancelled: endedByMe ? `You cancelled the call to ${peer}` : `${peer} hung up before you answered`,
    rejected: endedByMe ? `You declined ${peer}'s call` : `${peer} declined the call`,
  };
  return words[reason];
}

/** Seconds as m:ss (or h:mm:ss). */
export function clock(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const seconds = String(s % 60).padStart(2, '0');
  return hours ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}
