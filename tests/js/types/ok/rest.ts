// A typed REST client over the generated route map: every path parameter,
// query string, body and answer comes from `RestRoutes`, and the result
// narrows on `ok` to the route's success body or the contract's error body.
import type {
  CallEntry,
  ChatDetails,
  ErrorCode,
  Message,
  RestResult,
  RestRoute,
  RestRoutes,
} from '@lockstep/contract';

type Request<R extends RestRoute> = {
  params: RestRoutes[R]['params'];
  query: RestRoutes[R]['query'];
  body: RestRoutes[R]['body'];
};

async function call<R extends RestRoute>(route: R, request: Request<R>): Promise<RestResult<R>> {
  const [method, template] = route.split(' ') as [string, string];
  const params: Record<string, string> = request.params ?? {};
  const path = template.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? ''));
  const query = new URLSearchParams(
    Object.entries(request.query ?? {}).map(([name, value]): [string, string] => [name, String(value)]),
  );
  const response = await fetch(`${path}${query.size ? `?${query}` : ''}`, {
    method,
    credentials: 'include',
    headers: request.body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: request.body === undefined ? undefined : JSON.stringify(request.body),
  });
  return { ok: response.ok, status: response.status, body: await response.json() } as RestResult<R>;
}

export async function createTeam(members: string[]): Promise<ChatDetails | ErrorCode> {
  const created = await call('POST /api/chats', {
    params: undefined,
    query: undefined,
    body: { chatType: 'group', chatName: 'Team', participants: members },
  });
  if (created.ok) {
    const chatid: string = created.body.chatid;
    const canAdd: boolean = created.body.permissions.canAddMembers;
    console.log(chatid, canAdd, created.status === 201 ? 'created' : 'existed');
    return created.body;
  }
  const status: 400 | 401 | 404 | 405 | 413 | 415 | 500 | 503 = created.status;
  console.warn(status, created.body.message);
  return created.body.error;
}

export async function history(chatid: string, before?: string): Promise<Message[]> {
  const page = await call('GET /api/chats/{chatid}/messages', {
    params: { chatid },
    query: { limit: 20, before },
    body: undefined,
  });
  if (!page.ok) throw new Error(`${page.body.error}: ${page.body.message}`);
  const next: string | undefined = page.body.nextBefore;
  console.log(next);
  return page.body.messages;
}

export async function addModerator(chatid: string, profileid: string): Promise<boolean> {
  const added = await call('POST /api/chats/{chatid}/participants', {
    params: { chatid },
    query: undefined,
    body: { profileid, role: 'moderator' },
  });
  return added.ok && added.body.added;
}

export async function missedCalls(): Promise<CallEntry[]> {
  const calls = await call('GET /api/calls', { params: undefined, query: { limit: 200 }, body: undefined });
  return calls.ok ? calls.body.calls.filter((c) => c.status === 'missed' && c.callType === 'video') : [];
}
