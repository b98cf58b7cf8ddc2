// The official SDKs through mocks of providers in their own formats
// (t/sdk/native-mocks.conf, added to the quickstart by t/074-sdk-native.t;
// the quickstart's own mocks speak OpenAI chat):
//
//   openai          client.responses.create, plain, streamed and with
//                   tools, to an Anthropic mock, a Gemini mock and an
//                   OpenAI mock that serves /v1/responses (passthrough)
//   @google/genai   generateContent and generateContentStream, text and
//                   function calls, to the Anthropic and Gemini mocks and
//                   the quickstart's OpenAI chat mock
//   @anthropic-ai/sdk  messages.countTokens answered by Anthropic, by
//                   Gemini (totalTokens), and estimated for OpenAI
//
// The opaque values of the mocks come back byte for byte: Anthropic's
// tool_use id and thinking signature, Gemini's thoughtSignature, the
// native Responses call_id.
//
// By hand: QUICKSTART_EXTRA=$PWD/t/sdk/native-mocks.conf make run, then
//   NATIVE_BASE_URL=http://127.0.0.1:8080 node --test t/sdk/native.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const sdkDir = process.env.NATIVE_SDK_DIR
    ?? path.join(here, '..', '..', 'build', 'sdk');
const require = createRequire(path.join(sdkDir, 'package.json'));

const { OpenAI } = require('openai');
const { GoogleGenAI, Type } = require('@google/genai');
const anthropicSdk = require('@anthropic-ai/sdk');
const Anthropic = anthropicSdk.Anthropic ?? anthropicSdk.default;

const base = process.env.NATIVE_BASE_URL ?? 'http://127.0.0.1:8080';

const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'sk-gw',
                            maxRetries: 0, timeout: 10_000 });
const ai = new GoogleGenAI({ apiKey: 'gemini-gw',
                             httpOptions: { baseUrl: base, timeout: 10_000 } });
const anthropic = new Anthropic({ baseURL: base, apiKey: 'sk-ant-gw',
                                  maxRetries: 0, timeout: 10_000 });

const SIGNATURE = 'EqQBCkYIARgCKkBtb2NrLXNpZ25hdHVyZQ==';
const THOUGHT = 'Q2lRQmNtb2NrLXRob3VnaHQ=';

const text = {
    'claude-mock': 'Hello from the Anthropic mock.',
    'gemini-mock': 'Hello from the Gemini mock.',
    'gpt-native': 'Hello from the native Responses mock.',
};

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

const weather = {
    functionDeclarations: [{
        name: 'get_weather',
        description: 'Current weather for a city',
        parameters: {
            type: Type.OBJECT,
            properties: { city: { type: Type.STRING } },
            required: ['city'],
        },
    }],
};

async function collect(stream) {
    const events = [];
    for await (const event of stream) {
        events.push(event);
    }
    return events;
}


// -- openai: client.responses.create ------------------------------------------

for (const model of ['claude-mock', 'gemini-mock', 'gpt-native']) {

    test(`responses.create to ${model}: output_text, usage`, async () => {
        const res = await openai.responses.create({
            model, input: 'Hello!', instructions: 'Be terse.',
        });

        assert.equal(res.object, 'response');
        assert.equal(res.status, 'completed');
        assert.equal(res.output_text, text[model]);
        assert.ok(res.usage.input_tokens > 0);
        assert.equal(res.usage.total_tokens,
                     res.usage.input_tokens + res.usage.output_tokens);

        if (model === 'claude-mock') {
            // the thinking block and its signature, as a reasoning item
            const rs = res.output.find((i) => i.type === 'reasoning');
            assert.ok(rs, 'a reasoning item');
            assert.equal(rs.encrypted_content, SIGNATURE);
        }
    });

    test(`responses.create stream to ${model}: typed events`, async () => {
        const events = await collect(await openai.responses.create({
            model, input: 'Hello!', stream: true,
        }));

        const types = events.map((e) => e.type);
        assert.equal(types[0], 'response.created');
        assert.equal(types.at(-1), 'response.completed');

        const deltas = events.filter(
            (e) => e.type === 'response.output_text.delta');
        assert.equal(deltas.map((e) => e.delta).join(''), text[model]);

        const done = events.at(-1).response;
        assert.equal(done.status, 'completed');
        assert.ok(done.usage.output_tokens > 0);

        // sequence numbers count up from 0
        events.forEach((e, i) => assert.equal(e.sequence_number, i));
    });

    test(`responses.create with tools to ${model}: a function_call`,
         async () => {
        const res = await openai.responses.create({
            model, input: 'Weather in Paris?', tools: [weatherTool],
        });

        const call = res.output.find((i) => i.type === 'function_call');
        assert.ok(call, 'a function_call item');
        assert.equal(call.name, 'get_weather');
        assert.deepEqual(JSON.parse(call.arguments), { city: 'Paris' });

        if (model === 'claude-mock') {
            assert.equal(call.call_id, 'toolu_01MockAnthropicId');
        }
        if (model === 'gpt-native') {
            assert.equal(call.call_id, 'call_MockNative');
        }

        // the result goes back; the answer is text
        const next = await openai.responses.create({
            model,
            tools: [weatherTool],
            input: [
                { role: 'user', content: 'Weather in Paris?' },
                call,
                { type: 'function_call_output', call_id: call.call_id,
                  output: '18C, sunny' },
            ],
        });

        assert.equal(next.output_text, text[model]);
    });

    test(`responses.create stream with tools to ${model}`, async () => {
        const events = await collect(await openai.responses.create({
            model, input: 'Weather in Paris?', tools: [weatherTool],
            stream: true,
        }));

        const added = events.find(
            (e) => e.type === 'response.output_item.added'
                   && e.item.type === 'function_call');
        assert.ok(added, 'a function_call item added');
        assert.equal(added.item.name, 'get_weather');

        const args = events
            .filter((e) => e.type === 'response.function_call_arguments.delta')
            .map((e) => e.delta).join('');
        assert.deepEqual(JSON.parse(args), { city: 'Paris' });

        const done = events.find(
            (e) => e.type === 'response.function_call_arguments.done');
        assert.deepEqual(JSON.parse(done.arguments), { city: 'Paris' });

        assert.equal(events.at(-1).type, 'response.completed');
    });
}

test('responses.stream helper through the passthrough: finalResponse',
     async () => {
    const stream = openai.responses.stream({ model: 'gpt-native',
                                             input: 'Hello!' });
    const res = await stream.finalResponse();
    assert.equal(res.output_text, text['gpt-native']);
});

test('passthrough: previous_response_id goes to the provider', async () => {
    // the native mock answers; the translated surface would refuse it
    const res = await openai.responses.create({
        model: 'gpt-native', input: 'And then?',
        previous_response_id: 'resp_MockNative1',
    });
    assert.equal(res.output_text, text['gpt-native']);
});


// -- @google/genai ----------------------------------------------------------

for (const model of ['claude-mock', 'gemini-mock', 'gpt-4o-mini']) {

    const answer = model === 'gpt-4o-mini'
        ? /^Hello from gpt-4o-mini!/          // the quickstart's chat mock
        : new RegExp(`^${text[model]}$`);

    test(`genai generateContent to ${model}: text, usage`, async () => {
        const res = await ai.models.generateContent({
            model, contents: 'Hello!',
            config: { systemInstruction: 'Be terse.', maxOutputTokens: 64 },
        });

        assert.match(res.text, answer);
        assert.equal(res.candidates[0].finishReason, 'STOP');
        assert.ok(res.usageMetadata.totalTokenCount > 0);
    });

    test(`genai generateContentStream to ${model}`, async () => {
        let all = '';
        let last;

        for await (const chunk of await ai.models.generateContentStream({
            model, contents: 'Hello!' }))
        {
            all += chunk.text ?? '';
            last = chunk;
        }

        assert.match(all, answer);
        assert.equal(last.candidates[0].finishReason, 'STOP');
        assert.ok(last.usageMetadata.totalTokenCount > 0);
    });

    test(`genai function call to ${model}, then its response`, async () => {
        const contents = [{ role: 'user', parts: [{ text: 'Weather?' }] }];

        const first = await ai.models.generateContent({
            model, contents, config: { tools: [weather] },
        });

        assert.equal(first.functionCalls.length, 1);
        assert.equal(first.functionCalls[0].name, 'get_weather');
        assert.deepEqual(first.functionCalls[0].args, { city: 'Paris' });

        const part = first.candidates[0].content.parts.find(
            (p) => p.functionCall);

        if (model === 'gemini-mock') {
            assert.equal(part.thoughtSignature, THOUGHT);
        }
        if (model === 'claude-mock') {
            assert.equal(part.functionCall.id, 'toolu_01MockAnthropicId');
        }

        contents.push(first.candidates[0].content);
        contents.push({ role: 'user', parts: [{ functionResponse: {
            id: part.functionCall.id, name: 'get_weather',
            response: { output: '18C' } } }] });

        const res = await ai.models.generateContent({
            model, contents, config: { tools: [weather] },
        });

        assert.match(res.text, answer);
    });

    test(`genai generateContentStream function call to ${model}`,
         async () => {
        const calls = [];

        for await (const chunk of await ai.models.generateContentStream({
            model, contents: 'Weather?', config: { tools: [weather] } }))
        {
            calls.push(...(chunk.functionCalls ?? []));
        }

        assert.equal(calls.length, 1);
        assert.equal(calls[0].name, 'get_weather');
        assert.deepEqual(calls[0].args, { city: 'Paris' });
    });
}

test('genai countTokens: Gemini and Anthropic count, OpenAI estimates',
     async () => {
    const gem = await ai.models.countTokens({ model: 'gemini-mock',
                                              contents: 'Hello!' });
    assert.equal(gem.totalTokens, 37);

    const ant = await ai.models.countTokens({ model: 'claude-mock',
                                              contents: 'Hello!' });
    assert.equal(ant.totalTokens, 42);

    const est = await ai.models.countTokens({ model: 'gpt-4o-mini',
                                              contents: 'Hello!' });
    assert.equal(est.totalTokens, 5);
});


// -- @anthropic-ai/sdk: messages.countTokens --------------------------------

test('messages.countTokens: Anthropic counts', async () => {
    const res = await anthropic.messages.countTokens({
        model: 'claude-mock',
        system: 'Be terse.',
        messages: [{ role: 'user', content: 'Hello!' }],
        tools: [{ name: 'get_weather', description: 'Weather',
                  input_schema: { type: 'object' } }],
    });
    assert.equal(res.input_tokens, 42);
});

test('messages.countTokens: Gemini counts (totalTokens)', async () => {
    const res = await anthropic.messages.countTokens({
        model: 'gemini-mock',
        messages: [{ role: 'user', content: 'Hello!' }],
    });
    assert.equal(res.input_tokens, 37);
});

test('messages.countTokens: OpenAI has no endpoint, flagged estimate',
     async () => {
    const { data, response } = await anthropic.messages.countTokens({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Hello!' }],
    }).withResponse();
    assert.equal(data.input_tokens, 5);
    assert.equal(response.headers.get('x-llm-token-count'), 'estimated');
});
