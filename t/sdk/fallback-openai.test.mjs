// The official "openai" npm SDK through a fallback: the gateway runs
// conf-examples/fallback.conf, whose primary targets fail before their
// first byte (Anthropic's 529 overloaded_error; OpenAI's 429 with
// Retry-After) and whose fallbacks, of the other provider type, answer.
// The client sees one ordinary answer, or one ordinary stream: never an
// error, never two answers.
//
// t/076-sdk-fallback.t starts nginx on a free port and runs this file;
// by hand (QUICKSTART_CONF=conf-examples/fallback.conf make run):
//
//   OPENAI_BASE_URL=http://127.0.0.1:8080/v1 node --test t/sdk/fallback-openai.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const sdkDir = process.env.OPENAI_SDK_DIR
    ?? path.join(here, '..', '..', 'build', 'sdk');
const require = createRequire(path.join(sdkDir, 'package.json'));
const { OpenAI } = require('openai');

const client = new OpenAI({
    baseURL: process.env.OPENAI_BASE_URL ?? 'http://127.0.0.1:8080/v1',
    apiKey: 'sk-gateway-test',
    maxRetries: 0,
    timeout: 10_000,
});

const hello = [{ role: 'user', content: 'Hello!' }];

async function collect(stream) {
    const chunks = [];
    for await (const chunk of stream) {
        chunks.push(chunk);
    }
    return chunks;
}

const text = (chunks) =>
    chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');


test('529 from the Anthropic primary: the OpenAI fallback answers', async () => {
    const { data, response } = await client.chat.completions.create({
        model: 'claude-sonnet-4-5',
        messages: hello,
    }).withResponse();

    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-llm-provider'), 'mock-openai');
    assert.equal(response.headers.get('x-llm-attempts'), '2');
    assert.equal(response.headers.get('x-llm-fallback-reason'),
                 '529 from mock-overloaded');

    assert.equal(data.object, 'chat.completion');
    assert.equal(data.choices.length, 1);
    assert.equal(data.choices[0].message.content, 'Served by mock-openai.');
    assert.equal(data.choices[0].finish_reason, 'stop');
    assert.equal(data.usage.total_tokens, 14);
});

test('529, a stream: the fallback streams, one [DONE]', async () => {
    const { data: stream, response } = await client.chat.completions.create({
        model: 'claude-sonnet-4-5',
        messages: hello,
        stream: true,
        stream_options: { include_usage: true },
    }).withResponse();

    assert.equal(response.headers.get('x-llm-provider'), 'mock-openai');

    const chunks = await collect(stream);

    assert.equal(text(chunks), 'Served by mock-openai.');
    assert.equal(chunks.filter((c) => c.choices[0]?.finish_reason).length, 1);
    assert.equal(chunks.at(-1).usage.total_tokens, 14);
});

test('429 + Retry-After from the OpenAI primary: the Anthropic fallback '
     + 'answers, translated', async () => {
    const { data, response } = await client.chat.completions.create({
        model: 'gpt-4o',
        messages: hello,
    }).withResponse();

    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-llm-provider'), 'mock-anthropic');
    assert.equal(response.headers.get('x-llm-model'), 'claude-haiku-4-5');

    // the first request saw the 429; its Retry-After then cools the
    // primary down, and later ones go straight to the fallback
    assert.match(response.headers.get('x-llm-fallback-reason'),
                 /^(429 from mock-ratelimited|cooldown of mock-ratelimited:gpt-4o)$/);

    assert.equal(data.object, 'chat.completion');
    assert.equal(data.choices[0].message.content, 'Served by mock-anthropic.');
    assert.equal(data.choices[0].finish_reason, 'stop');
    assert.equal(data.usage.prompt_tokens, 9);
    assert.equal(data.usage.completion_tokens, 5);
});

test('429 + Retry-After, a stream: the Anthropic fallback streams, '
     + 'translated', async () => {
    const stream = await client.chat.completions.create({
        model: 'gpt-4o',
        messages: hello,
        stream: true,
    });

    const chunks = await collect(stream);

    assert.equal(text(chunks), 'Served by mock-anthropic.');
    assert.equal(chunks.filter((c) => c.choices[0]?.finish_reason).length, 1);
    assert.equal(chunks.filter((c) => c.choices[0]?.finish_reason)[0]
                     .choices[0].finish_reason, 'stop');
});

test('the SDK helper that accumulates a stream sees one message', async () => {
    const stream = client.chat.completions.stream({
        model: 'claude-sonnet-4-5',
        messages: hello,
    });

    const done = await stream.finalChatCompletion();

    assert.equal(done.choices.length, 1);
    assert.equal(done.choices[0].message.content, 'Served by mock-openai.');
});
