// The REST API of DESIGN.md, through fetch.

/**
 * Calls the REST API. With a token it sends `Authorization: Bearer`, or the
 * `accessToken` cookie when `cookie: true`. `raw` sends a string body as-is
 * (for malformed JSON). Resolves with `{ status, body, text, headers }`;
 * `body` is the parsed JSON, or undefined when the answer is not JSON.
 */
export async function api(server, token, method, path, body, { cookie = false, raw, headers = {} } = {}) {
  const sent = { ...headers };
  if (token) {
    if (cookie) sent.Cookie = `accessToken=${token}`;
    else sent.Authorization = `Bearer ${token}`;
  }
  let payload;
  if (raw !== undefined) {
    payload = raw;
    sent['Content-Type'] ??= 'application/json';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    sent['Content-Type'] ??= 'application/json';
  }
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: sent,
    body: payload,
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, body: parsed, text, headers: response.headers };
}

/** A readable one-liner of a response, for assertion messages. */
export function show(response) {
  return `${response.status} ${response.text.slice(0, 500)}`;
}
