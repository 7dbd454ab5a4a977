import { describe, expect, it, vi } from 'vitest';
import { resolutionHints, resolveClientOptions } from '../../../src/cli/client/client-options.js';
import { ApiError } from '../../../src/cli/client/api-client.js';
import { CliError } from '../../../src/cli/client/exit-codes.js';
import type { ContextsConfig } from '../../../src/cli/client/context-store.js';

const PROD = { name: 'prod', url: 'https://prod.example.com', token: 'prod-token-0123456789' };
const DEMO = { name: 'demo', url: 'http://127.0.0.1:9000', token: 'demo-token-0123456789' };
const config = (current?: string): ContextsConfig => ({ path: '/cfg/remediator/config.yaml', ...(current ? { current } : {}), contexts: [PROD, DEMO] });
const ENV = { REMEDIATOR_URL: 'http://env:8080', REMEDIATOR_TOKEN: 'env-token-0123456789' };

describe('which server and token a client verb uses', () => {
  it('--url/--token first, then REMEDIATOR_URL/REMEDIATOR_TOKEN, then the current context, then the default URL', () => {
    const load = () => config('prod');
    expect(resolveClientOptions({ url: 'http://flag:1', token: 'flag-token', output: 'table' }, ENV, load)).toMatchObject({ url: 'http://flag:1', token: 'flag-token', urlFrom: 'flag' });
    expect(resolveClientOptions({ output: 'table' }, ENV, load)).toEqual({ url: ENV.REMEDIATOR_URL, token: ENV.REMEDIATOR_TOKEN, urlFrom: 'env', output: 'table' });
    expect(resolveClientOptions({ output: 'json' }, {}, load)).toEqual({ url: PROD.url, token: PROD.token, urlFrom: 'context', output: 'json', context: { name: 'prod', url: PROD.url, tokenUsed: true } });
    expect(resolveClientOptions({ output: 'table' }, {}, () => config())).toEqual({ url: 'http://127.0.0.1:8080', urlFrom: 'default', output: 'table' });
    expect(resolveClientOptions({ output: 'table' }, {}, () => ({ path: undefined, contexts: [] }))).toEqual({ url: 'http://127.0.0.1:8080', urlFrom: 'default', output: 'table' });
  });

  it('does not read the contexts when flags and variables give both the URL and the token', () => {
    const load = vi.fn(() => config('prod'));
    resolveClientOptions({ output: 'table' }, ENV, load);
    resolveClientOptions({ url: 'http://x:1', output: 'table' }, { REMEDIATOR_TOKEN: 't0123' }, load);
    expect(load).not.toHaveBeenCalled();
    resolveClientOptions({ output: 'table' }, { REMEDIATOR_URL: 'http://x:1' }, load);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it("a context's token only goes to that context's URL", () => {
    const load = () => config('prod');
    // Another server by flag or variable: no token from the context.
    expect(resolveClientOptions({ url: 'http://elsewhere:8080', output: 'table' }, {}, load)).toEqual({ url: 'http://elsewhere:8080', urlFrom: 'flag', output: 'table' });
    expect(resolveClientOptions({ output: 'table' }, { REMEDIATOR_URL: 'http://elsewhere:8080' }, load)).toEqual({ url: 'http://elsewhere:8080', urlFrom: 'env', output: 'table' });
    // The same server spelled with a trailing slash: the token is the context's.
    expect(resolveClientOptions({ output: 'table' }, { REMEDIATOR_URL: 'https://prod.example.com/' }, load)).toMatchObject({ token: PROD.token, urlFrom: 'env', context: { name: 'prod', tokenUsed: true } });
    // A token from a variable goes to the context's URL.
    expect(resolveClientOptions({ output: 'table' }, { REMEDIATOR_TOKEN: 'env-token-0123456789' }, load)).toMatchObject({ url: PROD.url, token: 'env-token-0123456789', urlFrom: 'context', context: { name: 'prod', tokenUsed: false } });
  });

  it('--context NAME picks a saved context over the current one and over the variables; --url/--token still win', () => {
    const load = () => config('prod');
    expect(resolveClientOptions({ context: 'demo', output: 'table' }, ENV, load)).toMatchObject({ url: DEMO.url, token: DEMO.token, urlFrom: 'context', context: { name: 'demo' } });
    expect(resolveClientOptions({ context: 'demo', token: 'flag-token', output: 'table' }, ENV, load)).toMatchObject({ url: DEMO.url, token: 'flag-token' });
    expect(resolveClientOptions({ context: 'demo', url: 'http://elsewhere:1', output: 'table' }, ENV, load)).toEqual({ url: 'http://elsewhere:1', urlFrom: 'flag', output: 'table' });
  });

  it('an unknown --context, or a current context that is gone when nothing else gives a URL, is exit 2', () => {
    expect(() => resolveClientOptions({ context: 'nope', output: 'table' }, {}, () => config('prod'))).toThrow(expect.objectContaining({ exitCode: 2, message: 'no context "nope" in /cfg/remediator/config.yaml', lines: ['contexts: prod, demo'] }));
    expect(() => resolveClientOptions({ context: 'demo', output: 'table' }, {})).toThrow(expect.objectContaining({ exitCode: 2 }));
    expect(() => resolveClientOptions({ output: 'table' }, {}, () => config('gone'))).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringContaining('the current context "gone" is not in /cfg/remediator/config.yaml') }));
    expect(resolveClientOptions({ output: 'table' }, { REMEDIATOR_URL: 'http://x:1' }, () => config('gone'))).toEqual({ url: 'http://x:1', urlFrom: 'env', output: 'table' });
  });

  it('hints say how to fix it, and never carry the token', () => {
    const unauthorized = new ApiError(401, { error: 'unauthorized', message: 'missing or invalid token' });
    const unreachable = new CliError('cannot reach the Remediator API', 4);
    const fromContext = resolveClientOptions({ output: 'table' }, {}, () => config('prod'));
    const nothing = resolveClientOptions({ output: 'table' }, {}, () => config());
    expect(resolutionHints(fromContext, unauthorized)).toEqual([`the token of context "prod" was refused; log in again: remediator login --url ${PROD.url} --token-file FILE --context prod`]);
    expect(resolutionHints(fromContext, unreachable).join()).toContain('that is context "prod"');
    expect(resolutionHints(nothing, unauthorized).join()).toContain('nothing is configured: remediator login --url URL --token-file FILE');
    expect(resolutionHints(nothing, unreachable).join()).toContain('no server is configured, so http://127.0.0.1:8080 was tried: remediator login --url URL --token-file FILE');
    expect(resolutionHints(fromContext, new ApiError(403, { error: 'forbidden', message: 'no' }))).toEqual([]);
    for (const err of [unauthorized, unreachable]) expect(resolutionHints(fromContext, err).join()).not.toContain(PROD.token);
  });
});
