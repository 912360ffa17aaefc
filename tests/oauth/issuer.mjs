// A real OAuth 2.1 authorization server for the OAuth tests: oidc-provider (a certified
// OpenID provider) on a loopback port, issuing JWT access tokens (RFC 9068) through the
// client_credentials grant, with resource indicators (RFC 8707) naming their audience.
//
//   node tests/oauth/issuer.mjs --resource URL [--resource URL ...] [--client ID:SECRET ...]
//
// Each `--resource` is a resource server the provider issues tokens for (`aud` is the
// resource); any other resource is refused (`invalid_target`). Each `--client` may use the
// client_credentials grant (client_secret_post or client_secret_basic). Tokens are signed
// with the fixed test key `tests/oauth/keys/issuer.private.jwks.json` (kid `test-rsa`,
// RS256), so that a test can also sign tokens of its own with that key (an expired one, one
// from another issuer) and they verify against the JWKS this provider publishes.
//
// Run it with Node 22 (.tools/node22): oidc-provider 9 supports only current LTS releases.
//
// Prints `issuer ready on http://127.0.0.1:PORT` on stderr once it serves, then one line
// `jwks served` for each request of its JWKS (the tests count the gateway's fetches), and
// runs until it is killed or its stdin closes (so it never outlives its test).

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// Installed by scripts/setup-test-deps.sh (pinned by tests/oauth/package-lock.json).
const prefix = process.env.MCPGW_OAUTH_PREFIX ?? resolve(here, '../../.tools/oauth');
let Provider;
let errors;
try {
  ({ default: Provider, errors } = await import(pathToFileURL(join(prefix, 'node_modules/oidc-provider/lib/index.js'))));
} catch (e) {
  console.error(`issuer: cannot load oidc-provider from ${prefix} (run scripts/setup-test-deps.sh): ${e.message}`);
  process.exit(2);
}

function parseArgs(argv) {
  const out = { resources: [], clients: [] };
  for (let i = 0; i < argv.length; i += 1) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--resource') out.resources.push(value);
    else if (flag === '--client') {
      const [id, secret] = value.split(':');
      if (!id || !secret) throw new Error(`--client wants ID:SECRET, not \`${value}\``);
      out.clients.push({ id, secret });
    } else throw new Error(`unknown argument \`${flag}\``);
    i += 1;
  }
  if (out.resources.length === 0) throw new Error('give at least one --resource');
  if (out.clients.length === 0) out.clients.push({ id: 'test-client', secret: 'test-client-secret-0001' });
  return out;
}

const args = parseArgs(process.argv.slice(2));
const jwks = JSON.parse(readFileSync(join(here, 'keys', 'issuer.private.jwks.json'), 'utf8'));

// The port first, so that the issuer URL (which every token's `iss` carries) is known.
let handler = (_req, res) => {
  res.statusCode = 503;
  res.end();
};
const server = createServer((req, res) => handler(req, res));
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: args.clients.map(({ id, secret }) => ({
    client_id: id,
    client_secret: secret,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_post',
  })),
  jwks,
  ttl: { ClientCredentials: 300 },
  features: {
    clientCredentials: { enabled: true },
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      // No default: a token request must name its resource.
      defaultResource: () => undefined,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => {
        if (!args.resources.includes(resource)) throw new errors.InvalidTarget();
        return {
          scope: 'mcp',
          audience: resource,
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256', kid: 'test-rsa' } },
        };
      },
    },
  },
});
// Plain http on loopback: the provider is behind no TLS terminator here.
provider.proxy = false;
provider.use(async (ctx, next) => {
  if (ctx.path === '/jwks') console.error('jwks served');
  await next();
});
provider.on('server_error', (_ctx, err) => console.error(`issuer: server error: ${err.stack}`));

handler = provider.callback();
console.error(`issuer ready on ${issuer}`);

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
