// Conformance of the gateway with the official "openai" npm SDK.
//
// Runs against conf-examples/quickstart.conf and its mock providers (the
// canned answers below are theirs).  t/070-sdk.t starts nginx on a free
// port and runs this file; by hand, with "make run" in another terminal
// and no provider keys in its environment:
//
//   OPENAI_BASE_URL=http://127.0.0.1:8080/v1 node --test t/sdk/openai.test.mjs
//
// The SDK is loaded from build/sdk (npm install --prefix build/sdk, which
// t/070-sdk.t does from t/sdk/package.json) or from $OPENAI_SDK_DIR.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const sdkDir = process.env.OPENAI_SDK_DIR
    ?? path.join(here, '..', '..', 'build', 'sdk');
const require = createRequire(path.join(sdkDir, 'package.json'));
const { OpenAI, NotFoundError, BadRequestError } = require('openai');

const baseURL = process.env.OPENAI_BASE_URL ?? 'http://127.0.0.1:8080/v1';

// the gateway holds the provider keys; whatever the client sends is not
// one of them (and a real OPENAI_API_KEY of the caller must not leak here)
const client = new OpenAI({
    baseURL,
    apiKey: 'sk-gateway-test',
    maxRetries: 0,
    timeout: 10_000,
});

const hello = [{ role: 'user', content: 'Hello!' }];

const weatherTool = {
    type: 'function',
    function: {
        name: 'get_weather',
        description: 'Current weather for a city',
        parameters: {
            type: 'object',
            properties: { city: { type: 'string' } },
            required: ['city'],
            additionalProperties: false,
        },
    },
};

// what the mocks answer, for the model they were asked for
const answer = (model) =>
    `Hello from ${model}! This is a canned answer from the nginx quickstart mock.`;

const usage = { prompt_tokens: 12, completion_tokens: 14, total_tokens: 26 };

// little-endian float32 values that the mock sends as floats or base64
const vector = [0.015625, -0.03125, 0.0625, -0.125, 0.25, -0.0078125, 0.5,
                -0.001953125];

async function collect(stream) {
    const chunks = [];
    for await (const chunk of stream) {
        chunks.push(chunk);
    }
    return chunks;
}

function content(chunks) {
    return chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
}


// -- models ------------------------------------------------------------------

test('models.list lists the routed model names', async () => {
    const page = await client.models.list();
    const ids = page.data.map((m) => m.id);

    for (const id of ['gpt-4o-mini', 'smart', 'deepseek-chat', 'llama-3.1-8b',
                      'text-embedding-3-small']) {
        assert.ok(ids.includes(id), `${id} in ${ids}`);
    }

    for (const m of page.data) {
        assert.equal(m.object, 'model');
        assert.equal(typeof m.created, 'number');
        assert.equal(typeof m.owned_by, 'string');
    }

    // regex routes are not names
    assert.ok(!ids.some((id) => id.startsWith('~')));

    // the SDK's auto-pagination walks the single page
    const all = [];
    for await (const m of client.models.list()) {
        all.push(m.id);
    }
    assert.deepEqual(all, ids);
});

test('models.retrieve', async () => {
    const m = await client.models.retrieve('llama-3.1-8b');
    assert.equal(m.id, 'llama-3.1-8b');
    assert.equal(m.object, 'model');
    assert.equal(m.owned_by, 'mock-vllm');

    await assert.rejects(client.models.retrieve('no-such-model'),
        (e) => e instanceof NotFoundError && e.status === 404);
});


// -- chat completions --------------------------------------------------------

test('chat.completions.create, non-streaming', async () => {
    const { data: c, response } = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: hello,
    }).withResponse();

    assert.equal(c.object, 'chat.completion');
    assert.match(c.id, /^chatcmpl-/);
    assert.equal(typeof c.created, 'number');
    assert.equal(c.model, 'gpt-4o-mini');
    assert.equal(c.choices.length, 1);
    assert.equal(c.choices[0].index, 0);
    assert.equal(c.choices[0].finish_reason, 'stop');
    assert.equal(c.choices[0].message.role, 'assistant');
    assert.equal(c.choices[0].message.content, answer('gpt-4o-mini'));

    assert.equal(c.usage.prompt_tokens, usage.prompt_tokens);
    assert.equal(c.usage.completion_tokens, usage.completion_tokens);
    assert.equal(c.usage.total_tokens, usage.total_tokens);

    assert.match(response.headers.get('content-type'), /^application\/json/);
    assert.equal(response.headers.get('x-llm-provider'), 'mock-openai');
    assert.equal(response.headers.get('x-llm-model'), 'gpt-4o-mini');
});

test('routes: alias, deepseek type, vllm type with a renamed model',
     async () => {
    const cases = [
        // asked for, provider, model the provider got (and echoes)
        ['smart', 'mock-openai', 'gpt-4o'],
        ['deepseek-chat', 'mock-deepseek', 'deepseek-chat'],
        ['llama-3.1-8b', 'mock-vllm', 'meta-llama/Llama-3.1-8B-Instruct'],
        ['local/meta-llama/Llama-3.1-8B-Instruct', 'mock-vllm',
         'meta-llama/Llama-3.1-8B-Instruct'],
    ];

    for (const [model, provider, upstream] of cases) {
        const { data: c, response } = await client.chat.completions.create({
            model,
            messages: hello,
        }).withResponse();

        assert.equal(response.headers.get('x-llm-provider'), provider, model);
        assert.equal(response.headers.get('x-llm-model'), upstream, model);
        assert.equal(c.model, upstream, model);
        assert.equal(c.choices[0].message.content, answer(upstream), model);
    }
});

test('stream with stream_options.include_usage', async () => {
    const stream = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: hello,
        stream: true,
        stream_options: { include_usage: true },
    });

    const chunks = await collect(stream);

    assert.ok(chunks.length >= 5, `${chunks.length} chunks`);

    for (const c of chunks) {
        assert.equal(c.object, 'chat.completion.chunk');
        assert.equal(c.id, chunks[0].id);
        assert.equal(c.model, 'gpt-4o-mini');
    }

    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    assert.equal(content(chunks), answer('gpt-4o-mini'));

    const finish = chunks.filter((c) => c.choices[0]?.finish_reason);
    assert.equal(finish.length, 1);
    assert.equal(finish[0].choices[0].finish_reason, 'stop');

    // exactly one usage chunk, the last one, with no choices
    const withUsage = chunks.filter((c) => c.usage);
    assert.equal(withUsage.length, 1);

    const last = chunks[chunks.length - 1];
    assert.equal(last, withUsage[0]);
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage.prompt_tokens, usage.prompt_tokens);
    assert.equal(last.usage.completion_tokens, usage.completion_tokens);
    assert.equal(last.usage.total_tokens, usage.total_tokens);
});

test('stream without include_usage has no usage chunk', async () => {
    // the gateway asks the provider for usage anyway and removes the
    // usage-only chunk that the client did not ask for
    const { data: stream, response } = await client.chat.completions.create({
        model: 'smart',
        messages: hello,
        stream: true,
    }).withResponse();

    assert.match(response.headers.get('content-type'), /^text\/event-stream/);

    const chunks = await collect(stream);

    assert.equal(content(chunks), answer('gpt-4o'));
    assert.ok(chunks.every((c) => c.usage == null), 'no usage');
    assert.ok(chunks.every((c) => c.choices.length === 1), 'no empty choices');
    assert.equal(chunks[chunks.length - 1].choices[0].finish_reason, 'stop');
});

test('stream helper: finalChatCompletion and content events', async () => {
    const stream = client.chat.completions.stream({
        model: 'deepseek-chat',
        messages: hello,
        stream_options: { include_usage: true },
    });

    let deltas = '';
    stream.on('content', (delta) => { deltas += delta; });

    const c = await stream.finalChatCompletion();

    assert.equal(deltas, answer('deepseek-chat'));
    assert.equal(c.choices[0].message.content, answer('deepseek-chat'));
    assert.equal(c.choices[0].finish_reason, 'stop');
    assert.equal(c.usage.total_tokens, usage.total_tokens);
});


// -- tools -------------------------------------------------------------------

test('tools: non-streaming tool call', async () => {
    const c = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Weather in Paris?' }],
        tools: [weatherTool],
    });

    const choice = c.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.content, null);
    assert.equal(choice.message.tool_calls.length, 1);

    const call = choice.message.tool_calls[0];
    assert.equal(call.type, 'function');
    assert.match(call.id, /^call_/);
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
});

test('tools: streamed tool call assembled by the SDK', async () => {
    const stream = client.chat.completions.stream({
        model: 'llama-3.1-8b',
        messages: [{ role: 'user', content: 'Weather in Paris?' }],
        tools: [weatherTool],
    });

    const c = await stream.finalChatCompletion();
    const call = c.choices[0].message.tool_calls[0];

    assert.equal(c.choices[0].finish_reason, 'tool_calls');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
});

test('tools: runTools runs the tool and gets the final answer',
     async () => {
    const calls = [];

    const runner = client.chat.completions.runTools({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Weather in Paris?' }],
        tools: [{
            type: 'function',
            function: {
                name: 'get_weather',
                parameters: weatherTool.function.parameters,
                parse: JSON.parse,
                function: (args) => {
                    calls.push(args);
                    return { city: args.city, sky: 'clear' };
                },
            },
        }],
    });

    const final = await runner.finalContent();

    assert.deepEqual(calls, [{ city: 'Paris' }]);
    assert.equal(final, answer('gpt-4o-mini'));

    // user, assistant tool call, tool result, assistant answer
    assert.deepEqual(runner.messages.map((m) => m.role),
                     ['user', 'assistant', 'tool', 'assistant']);
});


// -- embeddings --------------------------------------------------------------

test('embeddings.create, base64 (the SDK default) and float', async () => {
    const b = await client.embeddings.create({
        model: 'text-embedding-3-small',
        input: 'The quick brown fox',
    });

    assert.equal(b.object, 'list');
    assert.equal(b.model, 'text-embedding-3-small');
    assert.equal(b.data.length, 1);
    assert.equal(b.data[0].object, 'embedding');
    assert.equal(b.data[0].index, 0);
    assert.deepEqual(Array.from(b.data[0].embedding), vector);
    assert.equal(b.usage.prompt_tokens, 5);
    assert.equal(b.usage.total_tokens, 5);

    const f = await client.embeddings.create({
        model: 'text-embedding-3-small',
        input: ['The quick brown fox'],
        encoding_format: 'float',
    });

    assert.deepEqual(f.data[0].embedding, vector);
});


// -- errors ------------------------------------------------------------------

test('unknown model: NotFoundError 404 model_not_found', async () => {
    for (const stream of [false, true]) {
        await assert.rejects(
            client.chat.completions.create({
                model: 'no-such-model',
                messages: hello,
                stream,
            }),
            (e) => {
                assert.ok(e instanceof NotFoundError, e.constructor.name);
                assert.equal(e.status, 404);
                assert.equal(e.code, 'model_not_found');
                assert.equal(e.type, 'invalid_request_error');
                assert.equal(typeof e.message, 'string');
                return true;
            });
    }

    await assert.rejects(
        client.embeddings.create({ model: 'no-such-model', input: 'x' }),
        (e) => e instanceof NotFoundError && e.status === 404);
});

test('provider error passed on: vLLM 404 for a model it does not serve',
     async () => {
    await assert.rejects(
        client.chat.completions.create({
            model: 'local/some-other-model',
            messages: hello,
        }),
        (e) => {
            assert.ok(e instanceof NotFoundError, e.constructor.name);
            assert.equal(e.status, 404);
            assert.match(e.message, /some-other-model` does not exist/);
            return true;
        });
});

test('malformed requests: BadRequestError 400', async () => {
    const bad = [
        // no messages
        [{ model: 'gpt-4o-mini' }, 'missing_required_parameter'],
        // messages not an array
        [{ model: 'gpt-4o-mini', messages: 'Hello' },
         'missing_required_parameter'],
        // stream not a boolean
        [{ model: 'gpt-4o-mini', messages: hello, stream: 'yes' },
         'invalid_type'],
        // no model
        [{ messages: hello }, 'missing_required_parameter'],
    ];

    for (const [body, code] of bad) {
        await assert.rejects(client.chat.completions.create(body), (e) => {
            assert.ok(e instanceof BadRequestError,
                      `${JSON.stringify(body)}: ${e.constructor.name}`);
            assert.equal(e.status, 400);
            assert.equal(e.code, code, JSON.stringify(body));
            assert.equal(e.type, 'invalid_request_error');
            return true;
        });
    }

    // not JSON at all
    await assert.rejects(
        client.post('/chat/completions', {
            body: new TextEncoder().encode('{"model": '),
            headers: { 'Content-Type': 'application/json' },
        }),
        (e) => e instanceof BadRequestError && e.code === 'invalid_json');
});

test('unknown endpoint: NotFoundError 404', async () => {
    await assert.rejects(client.get('/no-such-endpoint'),
        (e) => e instanceof NotFoundError && e.status === 404);
});


// -- concurrency -------------------------------------------------------------

test('concurrent streamed and plain requests', async () => {
    const jobs = [];

    for (let i = 0; i < 24; i++) {
        const model = ['gpt-4o-mini', 'deepseek-chat', 'smart'][i % 3];

        if (i % 2) {
            jobs.push(client.chat.completions.create({
                model, messages: hello, stream: true,
            }).then(collect).then((chunks) => content(chunks)));
        } else {
            jobs.push(client.chat.completions.create({
                model, messages: hello,
            }).then((c) => c.choices[0].message.content));
        }
    }

    const results = await Promise.all(jobs);

    results.forEach((text, i) => {
        const model = ['gpt-4o-mini', 'deepseek-chat', 'smart'][i % 3];
        assert.equal(text, answer(model === 'smart' ? 'gpt-4o' : model));
    });
});
