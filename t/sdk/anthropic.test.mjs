// Conformance of the gateway's Anthropic Messages surface with the
// official "@anthropic-ai/sdk" npm SDK: Anthropic clients of the
// OpenAI-format mock providers of conf-examples/quickstart.conf (the
// canned answers below are theirs), translated both ways.
//
// t/071-sdk-anthropic.t starts nginx on a free port and runs this file;
// by hand, with "make run" in another terminal and no provider keys in its
// environment:
//
//   ANTHROPIC_BASE_URL=http://127.0.0.1:8080 node --test t/sdk/anthropic.test.mjs
//
// The SDK is loaded from build/sdk (npm install --prefix build/sdk, from
// t/sdk/package.json) or from $ANTHROPIC_SDK_DIR.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const sdkDir = process.env.ANTHROPIC_SDK_DIR
    ?? path.join(here, '..', '..', 'build', 'sdk');
const require = createRequire(path.join(sdkDir, 'package.json'));
const sdk = require('@anthropic-ai/sdk');
const Anthropic = sdk.Anthropic ?? sdk.default;
const { NotFoundError, BadRequestError } = sdk;

// the SDK appends /v1/messages itself
const baseURL = process.env.ANTHROPIC_BASE_URL ?? 'http://127.0.0.1:8080';

// the gateway holds the provider keys; this one goes nowhere
const client = new Anthropic({
    baseURL,
    apiKey: 'sk-ant-gateway-test',
    maxRetries: 0,
    timeout: 10_000,
});

const hello = [{ role: 'user', content: 'Hello!' }];

const weatherTool = {
    name: 'get_weather',
    description: 'Current weather for a city',
    input_schema: {
        type: 'object',
        properties: { city: { type: 'string' } },
        required: ['city'],
    },
};

// what the mocks answer, for the model they were asked for
const answer = (model) =>
    `Hello from ${model}! This is a canned answer from the nginx quickstart mock.`;


// -- messages.create -----------------------------------------------------------

test('messages.create: an Anthropic Message', async () => {
    const msg = await client.messages.create({
        model: 'gpt-4o-mini',
        max_tokens: 64,
        system: 'You are terse.',
        messages: hello,
    });

    assert.equal(msg.type, 'message');
    assert.equal(msg.role, 'assistant');
    assert.equal(msg.model, 'gpt-4o-mini');
    assert.match(msg.id, /^chatcmpl-/);
    assert.deepEqual(msg.content, [{ type: 'text', text: answer('gpt-4o-mini') }]);
    assert.equal(msg.stop_reason, 'end_turn');
    assert.equal(msg.stop_sequence, null);
    assert.equal(msg.usage.input_tokens, 12);
    assert.equal(msg.usage.output_tokens, 14);
    assert.equal(msg.usage.cache_read_input_tokens, 0);
});

test('messages.create: an alias keeps the name the client asked for',
     async () => {
    const msg = await client.messages.create({
        model: 'smart',
        max_tokens: 64,
        messages: hello,
    });

    assert.equal(msg.model, 'smart');
    assert.equal(msg.content[0].text, answer('gpt-4o'));
});

test('tools: a tool_use block with its input, stop_reason tool_use',
     async () => {
    const msg = await client.messages.create({
        model: 'gpt-4o-mini',
        max_tokens: 64,
        tools: [weatherTool],
        messages: [{ role: 'user', content: 'Weather in Paris?' }],
    });

    assert.equal(msg.stop_reason, 'tool_use');
    assert.equal(msg.content.length, 1);

    const [call] = msg.content;

    assert.equal(call.type, 'tool_use');
    assert.equal(call.name, 'get_weather');
    assert.match(call.id, /^call_/);
    assert.deepEqual(call.input, { city: 'Paris' });
});

test('tools: the tool result goes back, the answer is text', async () => {
    const first = await client.messages.create({
        model: 'gpt-4o-mini',
        max_tokens: 64,
        tools: [weatherTool],
        messages: [{ role: 'user', content: 'Weather in Paris?' }],
    });

    const call = first.content.find((b) => b.type === 'tool_use');

    const msg = await client.messages.create({
        model: 'gpt-4o-mini',
        max_tokens: 64,
        tools: [weatherTool],
        messages: [
            { role: 'user', content: 'Weather in Paris?' },
            { role: 'assistant', content: first.content },
            { role: 'user', content: [{ type: 'tool_result',
                                         tool_use_id: call.id,
                                         content: '18C, sunny' }] },
        ],
    });

    assert.equal(msg.stop_reason, 'end_turn');
    assert.equal(msg.content[0].type, 'text');
    assert.equal(msg.content[0].text, answer('gpt-4o-mini'));
});


// -- streams -------------------------------------------------------------------

test('stream: the raw events in Anthropic order', async () => {
    const stream = await client.messages.create({
        model: 'gpt-4o-mini',
        max_tokens: 64,
        messages: hello,
        stream: true,
    });

    const events = [];
    let text = '';

    for await (const ev of stream) {
        events.push(ev.type);

        if (ev.type === 'content_block_delta') {
            assert.equal(ev.index, 0);
            assert.equal(ev.delta.type, 'text_delta');
            text += ev.delta.text;
        }

        if (ev.type === 'message_delta') {
            assert.equal(ev.delta.stop_reason, 'end_turn');
            assert.equal(ev.usage.output_tokens, 14);
            assert.equal(ev.usage.input_tokens, 12);
        }
    }

    assert.equal(text, answer('gpt-4o-mini'));
    assert.equal(events[0], 'message_start');
    assert.equal(events[1], 'content_block_start');
    assert.deepEqual(events.slice(-3),
                     ['content_block_stop', 'message_delta', 'message_stop']);
    assert.equal(events.filter((e) => e === 'message_stop').length, 1);
});

test('stream helper: text events and finalMessage', async () => {
    const stream = client.messages.stream({
        model: 'gpt-4o-mini',
        max_tokens: 64,
        messages: hello,
    });

    let text = '';
    stream.on('text', (t) => { text += t; });

    const msg = await stream.finalMessage();

    assert.equal(text, answer('gpt-4o-mini'));
    assert.equal(msg.model, 'gpt-4o-mini');
    assert.equal(msg.content.length, 1);
    assert.equal(msg.content[0].type, 'text');
    assert.equal(msg.content[0].text, answer('gpt-4o-mini'));
    assert.equal(msg.stop_reason, 'end_turn');
    assert.equal(msg.usage.output_tokens, 14);
});

test('stream helper: a streamed tool call assembled by the SDK', async () => {
    const stream = client.messages.stream({
        model: 'gpt-4o-mini',
        max_tokens: 64,
        tools: [weatherTool],
        messages: [{ role: 'user', content: 'Weather in Paris?' }],
    });

    let json = '';
    stream.on('inputJson', (partial) => { json += partial; });

    const msg = await stream.finalMessage();
    const call = msg.content.find((b) => b.type === 'tool_use');

    assert.equal(msg.stop_reason, 'tool_use');
    assert.equal(call.name, 'get_weather');
    assert.deepEqual(call.input, { city: 'Paris' });
    assert.deepEqual(JSON.parse(json), { city: 'Paris' });
});


// -- errors --------------------------------------------------------------------

test('unknown model: NotFoundError 404 not_found_error', async () => {
    await assert.rejects(
        client.messages.create({
            model: 'claude-nope',
            max_tokens: 64,
            messages: hello,
        }),
        (err) => {
            assert.ok(err instanceof NotFoundError, err.constructor.name);
            assert.equal(err.status, 404);
            assert.equal(err.error.type, 'error');
            assert.equal(err.error.error.type, 'not_found_error');
            return true;
        });
});

test('no max_tokens: BadRequestError 400 invalid_request_error', async () => {
    await assert.rejects(
        client.messages.create({ model: 'gpt-4o-mini', messages: hello }),
        (err) => {
            assert.ok(err instanceof BadRequestError, err.constructor.name);
            assert.equal(err.status, 400);
            assert.equal(err.error.error.type, 'invalid_request_error');
            assert.equal(err.error.error.message,
                         'max_tokens: Field required');
            return true;
        });
});

test('a provider error passed on: vLLM 404 for a model it does not serve',
     async () => {
    await assert.rejects(
        client.messages.create({
            model: 'local/some-other-model',
            max_tokens: 64,
            messages: hello,
        }),
        (err) => {
            assert.ok(err instanceof NotFoundError, err.constructor.name);
            assert.equal(err.error.error.type, 'not_found_error');
            assert.match(err.error.error.message, /does not exist/);
            return true;
        });
});

test('concurrent streamed and plain requests', async () => {
    const runs = [];

    for (let i = 0; i < 8; i++) {
        runs.push(i % 2
            ? client.messages.create({ model: 'gpt-4o-mini', max_tokens: 64,
                                       messages: hello })
            : client.messages.stream({ model: 'gpt-4o-mini', max_tokens: 64,
                                       messages: hello }).finalMessage());
    }

    for (const msg of await Promise.all(runs)) {
        assert.equal(msg.content[0].text, answer('gpt-4o-mini'));
    }
});
