// The official "@anthropic-ai/sdk" npm SDK through a fallback
// (conf-examples/fallback.conf): an Anthropic client of a route whose
// Anthropic primary is overloaded (529) is served by the OpenAI-format
// fallback, translated both ways; one whose OpenAI primary is rate
// limited (429 + Retry-After) by the Anthropic fallback.
//
// t/077-sdk-fallback-anthropic.t starts nginx and runs this file; by hand:
//
//   ANTHROPIC_BASE_URL=http://127.0.0.1:8080 node --test t/sdk/fallback-anthropic.test.mjs

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

const client = new Anthropic({
    baseURL: process.env.ANTHROPIC_BASE_URL ?? 'http://127.0.0.1:8080',
    apiKey: 'sk-ant-gateway-test',
    maxRetries: 0,
    timeout: 10_000,
});

const hello = [{ role: 'user', content: 'Hello!' }];


test('529 from the Anthropic primary: the OpenAI fallback answers as an '
     + 'Anthropic Message', async () => {
    const { data, response } = await client.messages.create({
        model: 'claude-sonnet-4-5',
        max_tokens: 100,
        messages: hello,
    }).withResponse();

    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-llm-provider'), 'mock-openai');
    assert.equal(response.headers.get('x-llm-attempts'), '2');

    assert.equal(data.type, 'message');
    assert.equal(data.role, 'assistant');
    assert.equal(data.content.length, 1);
    assert.equal(data.content[0].type, 'text');
    assert.equal(data.content[0].text, 'Served by mock-openai.');
    assert.equal(data.stop_reason, 'end_turn');
    assert.equal(data.usage.output_tokens, 5);
});

test('529, a stream: the SDK sees one message, its events in order',
     async () => {
    const stream = client.messages.stream({
        model: 'claude-sonnet-4-5',
        max_tokens: 100,
        messages: hello,
    });

    const types = [];
    stream.on('streamEvent', (e) => types.push(e.type));

    const msg = await stream.finalMessage();

    assert.equal(msg.content.map((b) => b.text).join(''),
                 'Served by mock-openai.');
    assert.equal(msg.stop_reason, 'end_turn');
    assert.equal(types[0], 'message_start');
    assert.equal(types.at(-1), 'message_stop');
    assert.equal(types.filter((t) => t === 'message_start').length, 1);
    assert.ok(!types.includes('error'));
});

test('429 + Retry-After from the OpenAI primary: the Anthropic fallback '
     + 'answers', async () => {
    const { data, response } = await client.messages.create({
        model: 'gpt-4o',
        max_tokens: 100,
        messages: hello,
    }).withResponse();

    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-llm-provider'), 'mock-anthropic');
    assert.equal(data.content[0].text, 'Served by mock-anthropic.');
    assert.equal(data.stop_reason, 'end_turn');
});

test('429 + Retry-After, a stream', async () => {
    const stream = client.messages.stream({
        model: 'gpt-4o',
        max_tokens: 100,
        messages: hello,
    });

    const msg = await stream.finalMessage();

    assert.equal(msg.content.map((b) => b.text).join(''),
                 'Served by mock-anthropic.');
    assert.equal(msg.stop_reason, 'end_turn');
});
