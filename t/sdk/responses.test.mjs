// Conformance of the gateway's Responses surface (POST /v1/responses) with
// the official "openai" npm SDK: client.responses.create, streamed and
// not, with tools, and the SDK's own stream helper (which checks the
// event sequence).  Run by t/070-sdk.t against conf-examples/quickstart.conf
// and its mock providers (OpenAI chat format: the gateway translates);
// by hand, with "make run" in another terminal:
//
//   OPENAI_BASE_URL=http://127.0.0.1:8080/v1 \
//       node --test t/sdk/responses.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const sdkDir = process.env.OPENAI_SDK_DIR
    ?? path.join(here, '..', '..', 'build', 'sdk');
const require = createRequire(path.join(sdkDir, 'package.json'));
const { OpenAI, BadRequestError } = require('openai');

const baseURL = process.env.OPENAI_BASE_URL ?? 'http://127.0.0.1:8080/v1';

const client = new OpenAI({
    baseURL,
    apiKey: 'sk-gateway-test',
    maxRetries: 0,
    timeout: 10_000,
});

const model = 'gpt-4o-mini';

const answer = (m) =>
    `Hello from ${m}! This is a canned answer from the nginx quickstart mock.`;

const weatherTool = {
    type: 'function',
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: {
        type: 'object',
        properties: { city: { type: 'string' } },
        required: ['city'],
        additionalProperties: false,
    },
    strict: true,
};

async function collect(stream) {
    const events = [];
    for await (const event of stream) {
        events.push(event);
    }
    return events;
}


test('responses.create: a Response with output_text and usage', async () => {
    const r = await client.responses.create({
        model,
        instructions: 'Be brief.',
        input: 'Hello!',
        max_output_tokens: 100,
        store: false,
    });

    assert.equal(r.object, 'response');
    assert.match(r.id, /^resp_/);
    assert.equal(r.status, 'completed');
    assert.equal(r.model, model);
    assert.equal(r.instructions, 'Be brief.');
    assert.equal(r.output_text, answer(model));
    assert.equal(r.output.length, 1);
    assert.equal(r.output[0].type, 'message');
    assert.equal(r.output[0].role, 'assistant');
    assert.equal(r.usage.input_tokens, 12);
    assert.equal(r.usage.output_tokens, 14);
    assert.equal(r.usage.total_tokens, 26);
});


test('responses.create stream: the typed event sequence', async () => {
    const stream = await client.responses.create({
        model,
        input: [{ role: 'user', content: 'Hello!' }],
        stream: true,
    });

    const events = await collect(stream);
    const types = events.map((e) => e.type);

    assert.deepEqual(types.slice(0, 4), [
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.content_part.added',
    ]);
    assert.deepEqual(types.slice(-4), [
        'response.output_text.done',
        'response.content_part.done',
        'response.output_item.done',
        'response.completed',
    ]);

    events.forEach((e, i) => assert.equal(e.sequence_number, i));

    const text = events
        .filter((e) => e.type === 'response.output_text.delta')
        .map((e) => e.delta).join('');

    assert.equal(text, answer(model));

    const done = events.at(-1).response;

    assert.equal(done.status, 'completed');
    assert.equal(done.output[0].content[0].text, answer(model));
    assert.equal(done.usage.output_tokens, 14);
});


test('responses.stream helper: finalResponse', async () => {
    const stream = client.responses.stream({ model, input: 'Hello!' });

    let deltas = '';
    stream.on('response.output_text.delta', (e) => { deltas += e.delta; });

    const r = await stream.finalResponse();

    assert.equal(deltas, answer(model));
    assert.equal(r.output_text, answer(model));
});


test('tools: a function_call, then its output sent back', async () => {
    const r = await client.responses.create({
        model,
        input: 'Weather in Paris?',
        tools: [weatherTool],
    });

    const calls = r.output.filter((o) => o.type === 'function_call');

    assert.equal(calls.length, 1);
    assert.equal(calls[0].name, 'get_weather');
    assert.equal(calls[0].status, 'completed');
    assert.match(calls[0].call_id, /^call_/);
    assert.deepEqual(JSON.parse(calls[0].arguments), { city: 'Paris' });

    // stateless: the whole conversation again, with the tool's output
    const r2 = await client.responses.create({
        model,
        tools: [weatherTool],
        input: [
            { role: 'user', content: 'Weather in Paris?' },
            ...r.output,
            {
                type: 'function_call_output',
                call_id: calls[0].call_id,
                output: '18C and sunny',
            },
        ],
    });

    assert.equal(r2.output_text, answer(model));
});


test('tools, stream: arguments in deltas, the done events', async () => {
    const stream = await client.responses.create({
        model,
        input: 'Weather in Paris?',
        tools: [weatherTool],
        stream: true,
    });

    const events = await collect(stream);

    const args = events
        .filter((e) => e.type === 'response.function_call_arguments.delta')
        .map((e) => e.delta).join('');

    assert.deepEqual(JSON.parse(args), { city: 'Paris' });

    const done = events.find(
        (e) => e.type === 'response.function_call_arguments.done');

    assert.equal(done.arguments, args);
    assert.equal(done.name, 'get_weather');

    const item = events.find((e) => e.type === 'response.output_item.done');

    assert.equal(item.item.type, 'function_call');
    assert.equal(item.item.arguments, args);
    assert.equal(events.at(-1).type, 'response.completed');
});


test('previous_response_id: 400, the gateway keeps no state', async () => {
    await assert.rejects(
        client.responses.create({
            model,
            input: 'And then?',
            previous_response_id: 'resp_123',
        }),
        (err) => err instanceof BadRequestError
                 && /no conversation state/.test(err.message));
});
