// Hands every chat message to the application exactly once, in `seq` order
// per chat, whichever way it arrived (live `new_message`, the offline queue,
// a `sync` page, or the ack of the client's own send).
import type { Message } from '@lockstep/contract';

/** One chat: the position (every message up to it was handed over) and what arrived early. */
interface ChatLog {
  position: number;
  /** Messages above position + 1, by seq, waiting for the gap to fill. */
  held: Map<number, Message>;
}

export class MessageSequencer {
  private readonly chats = new Map<string, ChatLog>();

  /**
   * @param deliver called once per message, in seq order per chat
   * @param onGap called when a message arrived with a gap before it (the
   *   client catches up with `sync`)
   */
  constructor(
    private readonly deliver: (message: Message) => void,
    private readonly onGap: () => void,
    positions: Record<string, number> = {},
  ) {
    for (const [chatid, seq] of Object.entries(positions)) {
      if (Number.isInteger(seq) && seq >= 0) this.chats.set(chatid, { position: seq, held: new Map() });
    }
  }

  /** The highest seq up to which every message of the chat was handed over (undefined: none known). */
  position(chatid: string): number | undefined {
    return this.chats.get(chatid)?.position;
  }

  /** Every chat's position, as `sync` takes them. */
  positions(): { chatid: string; seq: number }[] {
    return [...this.chats].map(([chatid, chat]) => ({ chatid, seq: chat.position }));
  }

  /** Stops tracking a chat (it is not the user's any more): its position and what it held. */
  forget(chatid: string): void {
    this.chats.delete(chatid);
  }

  /** Whether some chat still waits for messages before one it holds. */
  hasGaps(): boolean {
    for (const chat of this.chats.values()) if (chat.held.size > 0) return true;
    return false;
  }

  /** Takes a message from any source; ignores what was handed over already. */
  accept(message: Message): void {
    // A payload that broke the contract (reported as a violation when
    // validation is on) must not corrupt the order.
    if (typeof message !== 'object' || message === null) return;
    const { chatid, seq } = message;
    if (typeof chatid !== 'string' || !Number.isInteger(seq) || seq < 1) return;
    let chat = this.chats.get(chatid);
    if (!chat) {
      // A chat seen for the first time: position 0, as `sync` counts a
      // chat it is not told about.
      chat = { position: 0, held: new Map() };
      this.chats.set(chatid, chat);
    }
    if (seq <= chat.position || chat.held.has(seq)) return;
    if (seq > chat.position + 1) {
      chat.held.set(seq, message);
      this.onGap();
      return;
    }
    chat.position = seq;
    this.deliver(message);
    for (let next = chat.held.get(chat.position + 1); next; next = chat.held.get(chat.position + 1)) {
      chat.held.delete(next.seq);
      chat.position = next.seq;
      this.deliver(next);
    }
  }
}
