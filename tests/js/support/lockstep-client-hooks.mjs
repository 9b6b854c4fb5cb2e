// Module resolution hook of lockstep-client.mjs: a bare import from
// client/dist (socket.io-client) that Node cannot resolve from there is
// resolved from tests/js, where `npm ci` installed it.
let clientUrl;
let testsUrl;

export function initialize(data) {
  ({ clientUrl, testsUrl } = data);
}

export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (error) {
    const bare = !specifier.startsWith('.') && !specifier.startsWith('/') && !specifier.includes(':');
    if (bare && context.parentURL?.startsWith(clientUrl)) return next(specifier, { ...context, parentURL: testsUrl });
    throw error;
  }
}
